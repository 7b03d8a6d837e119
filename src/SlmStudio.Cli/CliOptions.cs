using System.CommandLine;
using System.Globalization;

namespace SlmStudio.Cli;

/// <summary>
/// Options whose wrong values read the same as before the move to System.CommandLine ("--seed must be a whole number
/// between ..."), since scripts and the portal's logs show these messages to people.
/// </summary>
public static class CliOptions
{
    /// <summary>A whole number in [min, max]; null when not given, so that the engine's own default applies.</summary>
    public static Option<int?> Int(string name, string helpName, string description, int min = int.MinValue, int max = int.MaxValue) =>
        new(name)
        {
            HelpName = helpName,
            Description = description,
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value;
                if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max) return value;
                result.AddError($"{name} must be a whole number between {min} and {max} (got '{text}').");
                return null;
            },
        };

    /// <summary>A positive whole number of bytes; null when not given.</summary>
    public static Option<long?> Bytes(string name, string description) =>
        new(name)
        {
            HelpName = "N",
            Description = description,
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value;
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0) return value;
                result.AddError($"{name} must be a positive whole number of bytes (got '{text}').");
                return null;
            },
        };

    /// <summary>A number in [min, max]; null when not given.</summary>
    public static Option<double?> Double(string name, string helpName, string description, double min = double.MinValue, double max = double.MaxValue) =>
        new(name)
        {
            HelpName = helpName,
            Description = description,
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value;
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max) return value;
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} must be a number between {min} and {max} (got '{text}')."));
                return null;
            },
        };

    public static Option<string?> Text(string name, string helpName, string description, bool required = false) =>
        new(name) { HelpName = helpName, Description = description, Required = required };

    /// <summary>One of a fixed set of words; null when not given.</summary>
    public static Option<string?> Choice(string name, string description, params string[] choices)
    {
        var option = new Option<string?>(name) { HelpName = string.Join('|', choices), Description = description };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string?>();
            if (value is not null && !choices.Contains(value, StringComparer.Ordinal))
                result.AddError($"{name} must be {string.Join(", ", choices[..^1])} or {choices[^1]} (got '{value}').");
        });
        return option;
    }

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>A positional argument that may be left out; the command says what is missing in its own words.</summary>
    public static Argument<string?> OptionalArgument(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.ZeroOrOne };
}
