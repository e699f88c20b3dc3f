#ifndef CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_
#define CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace codearts::cli {

/// Command-line arguments after `ParseFlags`: the positional arguments, program name first.
using Positional = std::vector<std::string>;

/// Parses the flags defined with ABSL_FLAG, with two differences from absl::ParseCommandLine:
/// flag names may be spelt with '-' (`--ca-file`) as well as '_' (absl names are C++
/// identifiers), and an unknown flag or a bad value is returned as INVALID_ARGUMENT instead of
/// exiting with status 1, so that every tool can exit 2 on a usage error with one clear line.
/// `--help` and the other absl usage flags behave as absl defines them.
absl::StatusOr<Positional> ParseFlags(int argc, char** argv);

}  // namespace codearts::cli

#endif  // CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_
