// Reading fields of a provider's JSON, which is hostile input: a field of
// the wrong type must not throw (nlohmann::json::value() throws type_error
// for `"detail": 422` where a string belongs, and an uncaught exception
// ends the process).
#ifndef UTPOST_ADAPTERS_JSON_FIELDS_H_
#define UTPOST_ADAPTERS_JSON_FIELDS_H_

#include <string>

#include "nlohmann/json.hpp"

namespace utpost::adapters {

// The string at `key` of `object`; "" when `object` is not an object, has
// no such key, or holds something other than a string there.
inline std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_JSON_FIELDS_H_
