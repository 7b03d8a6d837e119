using System.Text;

namespace SlmStudio.Core.Tokenization;

/// <summary>
/// The GPT-2 pre-tokenization pattern used by Hugging Face's ByteLevel pre-tokenizer
/// (<c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>), written as a scanner over
/// Unicode code points. A .NET Regex would see a supplementary-plane letter as two surrogates (not \p{L}) and split
/// differently from the Rust implementation; the scanner does not.
/// </summary>
public static class Gpt2PreTokenizer
{
    private enum Kind { Letter, Number, Space, Other }

    private static Kind KindAt(string s, int i, out int length)
    {
        var status = Rune.DecodeFromUtf16(s.AsSpan(i), out var rune, out length);
        if (status != System.Buffers.OperationStatus.Done) { length = 1; return Kind.Other; }
        if (Rune.IsLetter(rune)) return Kind.Letter;
        if (Rune.IsNumber(rune)) return Kind.Number;
        if (Rune.IsWhiteSpace(rune)) return Kind.Space;
        return Kind.Other;
    }

    /// <summary>Calls <paramref name="emit"/> with (start, length) of each piece of <paramref name="s"/>, in order.</summary>
    public static void Split(string s, Action<int, int> emit)
    {
        int n = s.Length, i = 0;
        while (i < n)
        {
            int start = i;
            char c = s[i];
            if (c == '\'' && i + 1 < n)
            {
                char d = s[i + 1];
                int len = d is 's' or 't' or 'm' or 'd' ? 2
                    : i + 2 < n && ((d == 'r' && s[i + 2] == 'e') || (d == 'v' && s[i + 2] == 'e') || (d == 'l' && s[i + 2] == 'l')) ? 3
                    : 0;
                if (len > 0) { emit(start, len); i += len; continue; }
            }

            var kind = KindAt(s, i, out int width);
            if (c == ' ' && i + 1 < n)
            {
                var nextKind = KindAt(s, i + 1, out _);
                if (nextKind != Kind.Space) { kind = nextKind; i++; KindAt(s, i, out width); }
            }

            if (kind != Kind.Space)
            {
                i += width;
                while (i < n && KindAt(s, i, out width) == kind) i += width;
                emit(start, i - start);
                continue;
            }

            // A whitespace run: \s+(?!\S) leaves its last character to the word after it (when a word follows and
            // the run is longer than one character); \s+ takes a lone one.
            int lastWidth = width;
            i += width;
            while (i < n && KindAt(s, i, out width) == Kind.Space) { lastWidth = width; i += width; }
            if (i < n && i - start > lastWidth) i -= lastWidth;
            emit(start, i - start);
        }
    }

    public static List<string> Split(string s)
    {
        var result = new List<string>();
        Split(s, (start, length) => result.Add(s.Substring(start, length)));
        return result;
    }
}
