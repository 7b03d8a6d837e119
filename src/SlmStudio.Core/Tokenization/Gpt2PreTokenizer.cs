using System.Text;

namespace SlmStudio.Core.Tokenization;

/// <summary>
/// The GPT-2 pre-tokenization pattern used by Hugging Face's ByteLevel pre-tokenizer
/// (<c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>), written as a scanner over
/// Unicode code points. A .NET Regex would see a supplementary-plane letter as two surrogates (not \p{L}) and split
/// differently from the Rust implementation; the scanner does not, and it allocates nothing.
/// </summary>
public static class Gpt2PreTokenizer
{
    private enum Kind : byte { Letter, Number, Space, Other }

    private static readonly Kind[] AsciiKinds = BuildAsciiKinds();

    private static Kind[] BuildAsciiKinds()
    {
        var kinds = new Kind[128];
        for (int c = 0; c < 128; c++)
            kinds[c] = char.IsLetter((char)c) ? Kind.Letter : char.IsNumber((char)c) ? Kind.Number
                : char.IsWhiteSpace((char)c) ? Kind.Space : Kind.Other;
        return kinds;
    }

    private static Kind KindAt(ReadOnlySpan<char> s, int i, out int length)
    {
        char c = s[i];
        if (c < 128) { length = 1; return AsciiKinds[c]; }
        var status = Rune.DecodeFromUtf16(s[i..], out var rune, out length);
        if (status != System.Buffers.OperationStatus.Done) { length = 1; return Kind.Other; }
        if (Rune.IsLetter(rune)) return Kind.Letter;
        if (Rune.IsNumber(rune)) return Kind.Number;
        if (Rune.IsWhiteSpace(rune)) return Kind.Space;
        return Kind.Other;
    }

    /// <summary>The (start, length) of each piece of <paramref name="text"/>, in order.</summary>
    public static RangeEnumerator Ranges(ReadOnlySpan<char> text) => new(text);

    public static void Split(string s, Action<int, int> emit)
    {
        foreach (var (start, length) in Ranges(s)) emit(start, length);
    }

    public static List<string> Split(string s)
    {
        var result = new List<string>();
        foreach (var (start, length) in Ranges(s)) result.Add(s.Substring(start, length));
        return result;
    }

    public ref struct RangeEnumerator(ReadOnlySpan<char> s)
    {
        private readonly ReadOnlySpan<char> _s = s;
        private int _next;

        public (int Start, int Length) Current { get; private set; }

        public readonly RangeEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            var s = _s;
            int n = s.Length, i = _next;
            if (i >= n) return false;
            int start = i;
            char c = s[i];
            if (c == '\'' && i + 1 < n)
            {
                char d = s[i + 1];
                int len = d is 's' or 't' or 'm' or 'd' ? 2
                    : i + 2 < n && ((d == 'r' && s[i + 2] == 'e') || (d == 'v' && s[i + 2] == 'e') || (d == 'l' && s[i + 2] == 'l')) ? 3
                    : 0;
                if (len > 0) return Emit(start, start + len);
            }

            var kind = KindAt(s, i, out int width);
            if (c == ' ' && i + 1 < n)
            {
                var nextKind = KindAt(s, i + 1, out int nextWidth);
                if (nextKind != Kind.Space) { kind = nextKind; i++; width = nextWidth; }
            }

            if (kind != Kind.Space)
            {
                i += width;
                while (i < n && KindAt(s, i, out width) == kind) i += width;
                return Emit(start, i);
            }

            // A whitespace run: \s+(?!\S) leaves its last character to the word after it (when a word follows and
            // the run is longer than one character); \s+ takes a lone one.
            int lastWidth = width;
            i += width;
            while (i < n && KindAt(s, i, out width) == Kind.Space) { lastWidth = width; i += width; }
            if (i < n && i - start > lastWidth) i -= lastWidth;
            return Emit(start, i);
        }

        private bool Emit(int start, int end)
        {
            Current = (start, end - start);
            _next = end;
            return true;
        }
    }
}
