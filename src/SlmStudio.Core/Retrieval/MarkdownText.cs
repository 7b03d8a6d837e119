using System.Net;
using System.Text.RegularExpressions;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// Turns the inline syntax of one Markdown line into the text a reader sees: link and image syntax give their text,
/// emphasis and code markers go, HTML tags go, entities and backslash escapes are resolved.
/// </summary>
internal static partial class MarkdownText
{
    public static string Clean(string line)
    {
        var s = Image().Replace(line, "$1");
        s = InlineLink().Replace(s, "$1");
        s = ReferenceLink().Replace(s, "$1");
        s = AutoLink().Replace(s, "$1");
        s = HtmlTag().Replace(s, "");
        s = InlineCode().Replace(s, "$1");
        s = Strong().Replace(s, "$2");
        s = Strike().Replace(s, "$1");
        s = StarEmphasis().Replace(s, "$1");
        s = UnderscoreEmphasis().Replace(s, "$1");
        // Markers left unpaired by the author would otherwise show up as stray symbols.
        s = s.Replace("**", "", StringComparison.Ordinal).Replace("__", "", StringComparison.Ordinal);
        s = Escape().Replace(s, "$1");
        s = WebUtility.HtmlDecode(s);
        return Spaces().Replace(s, " ").Trim();
    }

    [GeneratedRegex(@"!\[([^\]]*)\]\([^)]*\)")] private static partial Regex Image();
    [GeneratedRegex(@"\[([^\]]+)\]\([^)]*\)")] private static partial Regex InlineLink();
    [GeneratedRegex(@"\[([^\]]+)\]\[[^\]]*\]")] private static partial Regex ReferenceLink();
    [GeneratedRegex(@"<((?:https?|mailto):[^>\s]+)>")] private static partial Regex AutoLink();
    [GeneratedRegex(@"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")] private static partial Regex HtmlTag();
    [GeneratedRegex(@"`+([^`]+?)`+")] private static partial Regex InlineCode();
    [GeneratedRegex(@"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")] private static partial Regex Strong();
    [GeneratedRegex(@"~~(?=\S)(.+?)(?<=\S)~~")] private static partial Regex Strike();
    [GeneratedRegex(@"(?<![\*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?!\*)")] private static partial Regex StarEmphasis();
    [GeneratedRegex(@"(?<![_\w])_(?=\S)([^_]+?)(?<=\S)_(?![_\w])")] private static partial Regex UnderscoreEmphasis();
    [GeneratedRegex(@"\\([\\`*_{}\[\]()#+\-.!|>~])")] private static partial Regex Escape();
    [GeneratedRegex(@"[ \t]+")] private static partial Regex Spaces();
}
