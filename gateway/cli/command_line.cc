#include "cli/command_line.h"

#include <algorithm>
#include <array>
#include <ostream>
#include <string_view>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace codearts::cli {
namespace {

// absl handles these itself, outside the flag registry.
constexpr std::array<std::string_view, 8> kAbslUsageFlags = {
    "help",   "helpfull",  "helpshort", "helppackage",
    "helpon", "helpmatch", "version",   "only_check_args"};

bool IsHelpArgument(std::string_view arg) {
  return arg == "-h" || arg == "--help" || arg == "-help" || arg == "--helpfull" ||
         arg == "--helpshort";
}

}  // namespace

std::optional<int> HandleHelp(int argc, char** argv, const HelpText& text, std::ostream& out) {
  bool help = false;
  bool version = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    help = help || IsHelpArgument(arg);
    version = version || arg == "--version" || arg == "-version";
  }
  if (help) {
    out << text.usage << "\n\nFlags:\n";
    std::vector<absl::CommandLineFlag*> flags;
    for (const auto& [name, flag] : absl::GetAllFlags()) {
      const std::string file(flag->Filename());
      if (text.is_own_flag && text.is_own_flag(file)) flags.push_back(flag);
    }
    std::sort(flags.begin(), flags.end(),
              [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
    for (const absl::CommandLineFlag* flag : flags) {
      const std::string default_value = flag->DefaultValue();
      const bool quoted = flag->IsOfType<std::string>();
      out << "    --" << flag->Name() << " (" << flag->Help()
          << "); default: " << (quoted ? "\"" : "") << default_value << (quoted ? "\"" : "")
          << ";\n";
    }
    return 0;
  }
  if (version) {
    out << text.version;
    return 0;
  }
  return std::nullopt;
}

absl::StatusOr<Positional> ParseFlags(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    const std::size_t name_start = arg[1] == '-' ? 2 : 1;
    const std::size_t equals = arg.find('=', name_start);
    const bool has_value = equals != std::string::npos;
    const std::size_t name_end = has_value ? equals : arg.size();
    std::replace(arg.begin() + static_cast<std::ptrdiff_t>(name_start),
                 arg.begin() + static_cast<std::ptrdiff_t>(name_end), '-', '_');
    const std::string name = arg.substr(name_start, name_end - name_start);
    if (std::find(kAbslUsageFlags.begin(), kAbslUsageFlags.end(), name) != kAbslUsageFlags.end()) {
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      // absl also accepts --nofoo for a boolean flag foo.
      absl::CommandLineFlag* negated =
          absl::StartsWith(name, "no") ? absl::FindCommandLineFlag(name.substr(2)) : nullptr;
      if (negated != nullptr && negated->IsOfType<bool>() && !has_value) continue;
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (flag->IsOfType<bool>() && !has_value) continue;
    std::string value;
    if (has_value) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];  // "--flag value"
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    // Parsing sets the flag; absl::ParseCommandLine below sets it again to the same value.
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value \"", value, "\" for --", name, ": ", error));
    }
  }

  std::vector<char*> pointers;
  pointers.reserve(args.size() + 1);
  for (std::string& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), pointers.data());
  return Positional(positional.begin(), positional.end());
}

absl::Status ApplyEnvironment(std::string_view prefix, const std::vector<std::string>& flag_names,
                              const EnvLookup& env) {
  for (const std::string& name : flag_names) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      return absl::InternalError(absl::StrCat("no flag named ", name));
    }
    const std::string variable = absl::StrCat(std::string(prefix), absl::AsciiStrToUpper(name));
    const std::optional<std::string> value = env(variable);
    if (!value) continue;
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value \"", *value, "\" in ", variable, ": ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace codearts::cli
