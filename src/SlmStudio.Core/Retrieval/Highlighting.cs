using System.Text;

namespace SlmStudio.Core.Retrieval;

/// <summary>Marks matches in text and picks the part of a passage that shows the most of them.</summary>
public static class Highlighting
{
    /// <summary><paramref name="text"/> with each span between <paramref name="open"/> and <paramref name="close"/> (spans in order, not overlapping).</summary>
    public static string Mark(string text, IReadOnlyList<TextSpan> spans, string open = "«", string close = "»")
    {
        var sb = new StringBuilder(text.Length + spans.Count * (open.Length + close.Length));
        int at = 0;
        foreach (var span in spans.OrderBy(s => s.Start))
        {
            if (span.Start < at || span.End > text.Length) continue;
            sb.Append(text, at, span.Start - at).Append(open).Append(text, span.Start, span.Length).Append(close);
            at = span.End;
        }
        return sb.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>
    /// About <paramref name="maxCharacters"/> of <paramref name="text"/>, cut at spaces, placed where it holds the
    /// most different matched terms (then the most matches); the whole text when it is short.
    /// <paramref name="spanTerms"/> gives the analysed term of each span.
    /// </summary>
    public static Snippet BestSnippet(string text, IReadOnlyList<TextSpan> spans, IReadOnlyList<string> spanTerms, int maxCharacters)
    {
        if (text.Length <= maxCharacters * 5 / 4) return new Snippet(text, spans, false, false);
        int bestStart = 0, bestEnd = WordEnd(text, Math.Min(text.Length, maxCharacters));
        int bestDistinct = -1, bestCount = -1;
        foreach (var anchor in spans)
        {
            var start = WordStart(text, Math.Max(0, anchor.Start - maxCharacters / 4));
            var end = WordEnd(text, Math.Min(text.Length, start + maxCharacters));
            if (end <= start) end = Math.Min(text.Length, start + maxCharacters);
            var inside = Enumerable.Range(0, spans.Count).Where(i => spans[i].Start >= start && spans[i].End <= end).ToList();
            var distinct = inside.Select(i => spanTerms[i]).Distinct(StringComparer.Ordinal).Count();
            if (distinct > bestDistinct || (distinct == bestDistinct && inside.Count > bestCount))
                (bestStart, bestEnd, bestDistinct, bestCount) = (start, end, distinct, inside.Count);
        }
        var matches = spans.Where(s => s.Start >= bestStart && s.End <= bestEnd).Select(s => s with { Start = s.Start - bestStart }).ToList();
        return new Snippet(text[bestStart..bestEnd], matches, bestStart > 0, bestEnd < text.Length);
    }

    private static int WordStart(string text, int at)
    {
        if (at <= 0) return 0;
        while (at < text.Length && !char.IsWhiteSpace(text[at - 1])) at++;
        return at;
    }

    private static int WordEnd(string text, int at)
    {
        if (at >= text.Length) return text.Length;
        var end = at;
        while (end > 0 && !char.IsWhiteSpace(text[end])) end--;
        // One word longer than the whole snippet: cut inside it rather than show nothing.
        return end > 0 ? end : at;
    }
}
