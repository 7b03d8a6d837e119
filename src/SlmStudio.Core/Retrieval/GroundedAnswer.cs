using System.Text;
using System.Text.RegularExpressions;

namespace SlmStudio.Core.Retrieval;

/// <summary>A "[n]" in a written answer: where it is in the answer and the passage it names (null when no passage has that number).</summary>
public sealed record Citation(int Number, TextSpan Span, Passage? Passage);

/// <summary>The citations of an answer, the passages it cites (each once, in order of first citation) and numbers that name no passage.</summary>
public sealed record AnswerCitations(IReadOnlyList<Citation> Citations, IReadOnlyList<Passage> CitedPassages, IReadOnlyList<int> UnknownNumbers);

/// <summary>
/// The prompt that makes a model answer only from numbered passages, citing them as "[1][2]", and the parser that maps
/// those numbers back to the passages. Pure functions: the model call lives elsewhere.
/// </summary>
public static partial class GroundedAnswer
{
    /// <summary>What the model is told to say, word for word, when the passages do not answer the question.</summary>
    public const string NotAnsweredSentence = "The documents do not answer this question.";

    /// <summary>
    /// The prompt for <paramref name="question"/> over <paramref name="passages"/> (numbered from 1 in the given order).
    /// Passages longer than <paramref name="maxCharactersPerPassage"/> are shortened at a word so that a few long
    /// passages cannot push the question out of a small model's context.
    /// </summary>
    public static string BuildPrompt(string question, IReadOnlyList<Passage> passages, int maxCharactersPerPassage = 1500)
    {
        var sb = new StringBuilder();
        sb.Append("Answer the question using only the numbered passages from the company's documents below.\n");
        sb.Append("Rules:\n");
        sb.Append("- Use only facts stated in the passages, not anything you know from elsewhere.\n");
        sb.Append("- After each sentence, write the numbers of the passages it comes from in square brackets, for example: \"New employees get 25 days of holiday [1][3].\"\n");
        sb.Append($"- If the passages do not contain the answer, reply only: \"{NotAnsweredSentence}\"\n");
        sb.Append("- Keep the answer short.\n\n");
        sb.Append("Passages:\n");
        for (int i = 0; i < passages.Count; i++)
        {
            var p = passages[i];
            sb.Append('[').Append(i + 1).Append("] (").Append(p.SourceLabel).Append(")\n");
            sb.Append(Shorten(p.Text, maxCharactersPerPassage)).Append("\n\n");
        }
        if (passages.Count == 0) sb.Append("(none)\n\n");
        sb.Append("Question: ").Append(OneLine(question)).Append('\n');
        sb.Append("Answer:");
        return sb.ToString();
    }

    /// <summary>Every "[n]" (also "[1, 2]" and "[1; 2]") in <paramref name="answer"/>, mapped to <paramref name="passages"/> as numbered in the prompt.</summary>
    public static AnswerCitations ParseCitations(string answer, IReadOnlyList<Passage> passages)
    {
        var citations = new List<Citation>();
        foreach (Match m in CitationGroup().Matches(answer))
        {
            foreach (var c in m.Groups[1].Captures.Concat(m.Groups[2].Captures).OrderBy(c => c.Index))
            {
                if (!int.TryParse(c.Value, out var n)) continue;
                var passage = n >= 1 && n <= passages.Count ? passages[n - 1] : null;
                citations.Add(new Citation(n, new TextSpan(m.Index, m.Length), passage));
            }
        }
        var cited = citations.Where(c => c.Passage is not null).Select(c => c.Passage!).DistinctBy(p => p.Id).ToList();
        var unknown = citations.Where(c => c.Passage is null).Select(c => c.Number).Distinct().Order().ToList();
        return new AnswerCitations(citations, cited, unknown);
    }

    /// <summary>True when the model said that the documents do not answer (the sentence it was told to use, loosely matched).</summary>
    public static bool SaysNotAnswered(string answer)
    {
        var normalized = Regex.Replace(answer.ToLowerInvariant(), @"[^a-z ]", " ");
        normalized = Regex.Replace(normalized, @"\s+", " ").Trim();
        return normalized.Contains("documents do not answer", StringComparison.Ordinal)
            || normalized.Contains("documents don t answer", StringComparison.Ordinal);
    }

    private static string Shorten(string text, int max)
    {
        if (text.Length <= max) return text;
        var cut = text.LastIndexOf(' ', max);
        return text[..(cut > max / 2 ? cut : max)] + " …";
    }

    private static string OneLine(string s) => Regex.Replace(s, @"\s+", " ").Trim();

    [GeneratedRegex(@"\[\s*(\d{1,3})(?:\s*[,;]\s*(\d{1,3}))*\s*\]")]
    private static partial Regex CitationGroup();
}
