using SlmStudio.Core.Retrieval;

namespace SlmStudio.Web.Components.Pages.Playground;

/// <summary>Cuts text at match offsets, so a page can wrap the matches in its own markup and escape the rest.</summary>
public static class Highlight
{
    /// <summary>The text in order as (piece, is a match); overlapping or out-of-range spans are clipped, never thrown on.</summary>
    public static IEnumerable<(string Piece, bool Marked)> Pieces(string text, IReadOnlyList<TextSpan> matches)
    {
        int at = 0;
        foreach (var span in matches.OrderBy(m => m.Start))
        {
            int start = Math.Clamp(span.Start, at, text.Length), end = Math.Clamp(span.End, start, text.Length);
            if (start > at) yield return (text[at..start], false);
            if (end > start) yield return (text[start..end], true);
            at = end;
        }
        if (at < text.Length) yield return (text[at..], false);
    }

    /// <summary>The link to a passage shown among its neighbours.</summary>
    public static string ContextHref(int projectId, string passageId) =>
        $"/projects/{projectId}/passage?id={Uri.EscapeDataString(passageId)}";
}
