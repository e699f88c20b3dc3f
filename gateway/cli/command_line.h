#ifndef CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_
#define CODEARTS_GATEWAY_CLI_COMMAND_LINE_H_

#include <functional>
#include <iosfwd>
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
/// Call HandleHelp first: absl's own usage flags (`--help`, `--version`, ...) end the program
/// with status 1.
absl::StatusOr<Positional> ParseFlags(int argc, char** argv);

/// What `--help` and `--version` print.
struct HelpText {
  /// The text before the flag list.
  std::string usage;
  /// Which flags to list, by the file that defines them (the tool's own, not its libraries').
  std::function<bool(std::string_view file)> is_own_flag;
  std::string version;
};

/// When the arguments ask for help (`--help`, `-h`, `--helpfull`, `--helpshort`) or the version
/// (`--version`), writes it to `out` and returns 0, the exit code: asking for help is not a
/// failure. Otherwise nullopt. Each flag is listed as `--name (help); default: value;`.
std::optional<int> HandleHelp(int argc, char** argv, const HelpText& text, std::ostream& out);

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
