// libharu (libhpdf) reports errors through a callback instead of return
// values: HaruErrors keeps the first one, for whoever writes a PDF with it.
//
//   HaruErrors errors;
//   HPDF_Doc pdf = HPDF_New(HaruErrors::Record, &errors);
//   ... if (errors.code != HPDF_OK) the document is not usable.
//   HPDF_SaveToStream(pdf); std::string bytes = HaruStreamBytes(pdf);
#ifndef UTPOST_COMMON_HARU_ERRORS_H_
#define UTPOST_COMMON_HARU_ERRORS_H_

#include <hpdf.h>

#include <string>

namespace utpost {

struct HaruErrors {
  HPDF_STATUS code = HPDF_OK;
  HPDF_STATUS detail = 0;

  // The error handler for HPDF_New: `data` is a HaruErrors.
  static void Record(HPDF_STATUS code, HPDF_STATUS detail, void* data) {
    auto* errors = static_cast<HaruErrors*>(data);
    if (errors->code == HPDF_OK) {
      errors->code = code;
      errors->detail = detail;
    }
  }
};

// The bytes of the document HPDF_SaveToStream wrote into pdf's stream.
inline std::string HaruStreamBytes(HPDF_Doc pdf) {
  std::string out(HPDF_GetStreamSize(pdf), '\0');
  HPDF_UINT32 size = static_cast<HPDF_UINT32>(out.size());
  HPDF_ReadFromStream(pdf, reinterpret_cast<HPDF_BYTE*>(out.data()), &size);
  out.resize(size);
  return out;
}

}  // namespace utpost

#endif  // UTPOST_COMMON_HARU_ERRORS_H_
