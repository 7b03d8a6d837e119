using System.Globalization;

namespace SlmStudio.Cli;

/// <summary>Wrong command-line input: printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Parses <c>positional --name value --flag</c> argument lists and checks them against the options a command declares,
/// so that a typo is an error rather than silently ignored.
/// </summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Positional { get; }

    public CliArgs(IEnumerable<string> args)
    {
        var positional = new List<string>();
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var name = a[2..];
                string? value = null;
                var eq = name.IndexOf('=');
                if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
                else if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal)) value = list[++i];
                if (_options.ContainsKey(name)) throw new UsageException($"--{name} is given twice.");
                _options[name] = value;
            }
            else positional.Add(a);
        }
        Positional = positional;
    }

    public bool Has(string name) { _read.Add(name); return _options.ContainsKey(name); }

    public bool Flag(string name)
    {
        _read.Add(name);
        if (!_options.TryGetValue(name, out var v)) return false;
        return v is null || v is "true" or "1" or "yes" ? true
            : v is "false" or "0" or "no" ? false
            : throw new UsageException($"--{name} is a switch; it takes no value (got '{v}').");
    }

    public string? String(string name)
    {
        _read.Add(name);
        if (!_options.TryGetValue(name, out var v)) return null;
        return v ?? throw new UsageException($"--{name} needs a value.");
    }

    public string Required(string name) => String(name) ?? throw new UsageException($"--{name} is required.");

    public int? Int(string name, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = String(name);
        if (s is null) return null;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"--{name} must be a whole number between {min} and {max} (got '{s}').");
        return v;
    }

    public double? Double(string name, double min = double.MinValue, double max = double.MaxValue)
    {
        var s = String(name);
        if (s is null) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"--{name} must be a number between {min} and {max} (got '{s}').");
        return v;
    }

    /// <summary>Fails on any option the command never asked about, and on extra positional arguments.</summary>
    public void EnsureAllUsed(int maxPositional)
    {
        var unknown = _options.Keys.FirstOrDefault(k => !_read.Contains(k));
        if (unknown is not null) throw new UsageException($"Unknown option --{unknown}.");
        if (Positional.Count > maxPositional) throw new UsageException($"Unexpected argument '{Positional[maxPositional]}'.");
    }
}
