#ifndef CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_
#define CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
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

/// Reads an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// Sets each flag in `flag_names` from the environment variable `prefix` + its upper-case name
/// (`GATEWAY_` + `upstream_timeout` -> `GATEWAY_UPSTREAM_TIMEOUT`), when that is set. Call it
/// before ParseFlags, so that the command line wins. A bad value is INVALID_ARGUMENT naming the
/// variable.
absl::Status ApplyEnvironment(std::string_view prefix, const std::vector<std::string>& flag_names,
                              const EnvLookup& env);

}  // namespace codearts::cli

#endif  // CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_
