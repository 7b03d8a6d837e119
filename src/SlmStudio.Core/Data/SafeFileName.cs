using System.Globalization;
using System.Text;

namespace SlmStudio.Core.Data;

/// <summary>
/// Uploads are stored under names we generate, never under the name the user's browser sent: that name may hold
/// "../", control characters, Windows device names or right-to-left overrides. The original is kept only for display.
/// </summary>
public static class SafeFileName
{
    public const int MaxDisplayLength = 120;

    private static readonly HashSet<string> ReservedWindowsNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "CON", "PRN", "AUX", "NUL",
        "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
        "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    };

    /// <summary>
    /// A fresh storage name such as <c>3f2c...e1.pdf</c>: 32 random hex digits plus the original's extension when
    /// that extension is a plain allowed one, so the same upload twice gets two different names.
    /// </summary>
    public static string NewStorageName(string originalName)
    {
        var ext = Extension(originalName);
        return Guid.NewGuid().ToString("N") + (FileInspector.AllowedExtensions.Contains(ext) ? ext : ".upload");
    }

    /// <summary>
    /// The lower-case extension (".pdf") of the last path segment of a user-supplied name, or "" when there is none
    /// or it is not made of letters and digits.
    /// </summary>
    public static string Extension(string originalName)
    {
        var last = LastSegment(originalName).TrimEnd(' ', '.');
        var dot = last.LastIndexOf('.');
        if (dot <= 0 || dot == last.Length - 1) return "";
        var ext = last[dot..].ToLowerInvariant();
        return ext.Length <= 11 && ext.Skip(1).All(char.IsAsciiLetterOrDigit) ? ext : "";
    }

    /// <summary>What follows the last '/' or '\' (browsers and zip files may send whole paths).</summary>
    public static string LastSegment(string name)
    {
        var cut = name.LastIndexOfAny(['/', '\\']);
        return cut >= 0 ? name[(cut + 1)..] : name;
    }

    /// <summary>
    /// The original name made safe to show: control, format (e.g. right-to-left override) and other invisible
    /// characters appear as <c>\u{...}</c>, and very long names are shortened. Never use it as a path.
    /// </summary>
    public static string ForDisplay(string originalName)
    {
        var sb = new StringBuilder(originalName.Length);
        foreach (var rune in originalName.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            var invisible = category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator;
            if (invisible) sb.Append(CultureInfo.InvariantCulture, $"\\u{{{rune.Value:X4}}}");
            else sb.Append(rune.ToString());
        }
        var shown = sb.ToString();
        if (shown.Length == 0) shown = "(no name)";
        return shown.Length <= MaxDisplayLength ? shown : shown[..(MaxDisplayLength - 1)] + "…";
    }

    /// <summary>Why the name could not be used as a file name as it is (empty when it could); for logs and tests.</summary>
    public static IReadOnlyList<string> Hazards(string originalName)
    {
        var hazards = new List<string>();
        if (originalName.Contains("..", StringComparison.Ordinal) || originalName.IndexOfAny(['/', '\\']) >= 0 || Path.IsPathRooted(originalName))
            hazards.Add("contains a folder path");
        if (originalName.Any(c => char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format))
            hazards.Add("contains invisible control characters");
        var stem = LastSegment(originalName).Split('.')[0].TrimEnd(' ');
        if (ReservedWindowsNames.Contains(stem)) hazards.Add("is a reserved device name on Windows");
        if (originalName.Length > 255) hazards.Add("is longer than 255 characters");
        if (string.IsNullOrWhiteSpace(originalName)) hazards.Add("is empty");
        return hazards;
    }
}
