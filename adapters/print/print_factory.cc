#include "adapters/print/print_factory.h"

#include <utility>

#include "adapters/print/print_channel.h"

namespace utpost::adapters {

ChannelAdapter PrintAdapter() {
  ChannelAdapter a;
  a.default_channel = "print";
  a.configured = [](const config::v1::Providers& p) {
    return !p.print().url().empty();
  };
  a.make = [](const config::v1::Providers& p, const AdapterContext& context)
      -> absl::StatusOr<std::unique_ptr<Channel>> {
    const config::v1::Print& print = p.print();
    if (print.url().empty()) {
      return absl::InvalidArgumentError("print.url: must be set");
    }
    PrintOptions options;
    options.base_url = print.url();
    options.max_letters_per_job = print.batch_max_letters();
    options.max_wait_ms = print.batch_max_wait_ms();
    options.max_jobs_in_flight = print.batch_max_jobs_in_flight();
    options.max_job_bytes = print.batch_max_bytes();
    options.cover_page = print.cover_page();
    options.cover_page_options.font_file = print.cover_page_font();
    options.provider = print.provider_organisation();
    return NewPrintChannel(std::move(options), context.http);
  };
  return a;
}

}  // namespace utpost::adapters
