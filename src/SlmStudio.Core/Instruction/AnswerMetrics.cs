using System.Globalization;
using System.Text;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Instruction;

/// <summary>
/// How close an answer is to the expected one, the way question-answering benchmarks score it (SQuAD's normalisation:
/// lower case, no punctuation, no "a"/"an"/"the", words split on white space): exact match, token-level F1 (overlap of
/// the two bags of words) and ROUGE-L (F-measure of the longest common word subsequence, which also rewards order).
/// </summary>
public static class AnswerMetrics
{
    private static readonly HashSet<string> Articles = new(["a", "an", "the"], StringComparer.Ordinal);

    /// <summary>The words compared: lower case, punctuation removed, articles dropped.</summary>
    public static IReadOnlyList<string> Words(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var ch in text.ToLowerInvariant())
            sb.Append(char.IsPunctuation(ch) || char.IsSymbol(ch) ? ' ' : ch);
        return [.. sb.ToString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Where(w => !Articles.Contains(w))];
    }

    /// <summary>1 when both answers have the same words after normalisation, else 0.</summary>
    public static double ExactMatch(string expected, string got) => Words(expected).SequenceEqual(Words(got), StringComparer.Ordinal) ? 1 : 0;

    /// <summary>SQuAD's token F1: 2PR/(P+R) over the words both share (each counted as often as in both); 1 when both are empty.</summary>
    public static double TokenF1(string expected, string got)
    {
        var e = Words(expected);
        var g = Words(got);
        if (e.Count == 0 || g.Count == 0) return e.Count == g.Count ? 1 : 0;
        var counts = e.GroupBy(w => w, StringComparer.Ordinal).ToDictionary(x => x.Key, x => x.Count(), StringComparer.Ordinal);
        int common = 0;
        foreach (var w in g)
        {
            if (counts.TryGetValue(w, out var c) && c > 0)
            {
                common++;
                counts[w] = c - 1;
            }
        }
        if (common == 0) return 0;
        double precision = (double)common / g.Count, recall = (double)common / e.Count;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>ROUGE-L F1: with L the longest common subsequence of words, 2PR/(P+R) for P = L/|got|, R = L/|expected|.</summary>
    public static double RougeL(string expected, string got)
    {
        var e = Words(expected);
        var g = Words(got);
        if (e.Count == 0 || g.Count == 0) return e.Count == g.Count ? 1 : 0;
        var lcs = LongestCommonSubsequence(e, g);
        if (lcs == 0) return 0;
        double precision = (double)lcs / g.Count, recall = (double)lcs / e.Count;
        return 2 * precision * recall / (precision + recall);
    }

    public static int LongestCommonSubsequence(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            for (int j = 1; j <= b.Count; j++)
                current[j] = string.Equals(a[i - 1], b[j - 1], StringComparison.Ordinal) ? previous[j - 1] + 1 : Math.Max(previous[j], current[j - 1]);
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }
}

/// <summary>One held-out question: what was expected, what the model answered, and the three scores.</summary>
public sealed record AnswerExample(int Row, string Question, string Expected, string Got, double ExactMatch, double TokenF1, double RougeL);

/// <summary>
/// The scores over held-out questions (means of the per-question scores, 0..1) with every answer, and the best and worst
/// answers side by side for the user to read (ranked by token F1, then ROUGE-L; no answer is in both lists).
/// </summary>
public sealed record AnswerEvaluation(int Questions, double ExactMatch, double TokenF1, double RougeL,
    IReadOnlyList<AnswerExample> Best, IReadOnlyList<AnswerExample> Worst, IReadOnlyList<AnswerExample> Examples)
{
    /// <summary>How many best and worst examples are kept side by side.</summary>
    public const int SideBySide = 5;

    /// <summary>Scores <paramref name="answer"/> (the model's reply to a conversation's prompt) on every conversation.</summary>
    public static AnswerEvaluation Of(IReadOnlyList<Conversation> conversations, Func<IReadOnlyList<ChatMessage>, string> answer, CancellationToken ct = default)
    {
        var examples = new List<AnswerExample>(conversations.Count);
        foreach (var c in conversations)
        {
            ct.ThrowIfCancellationRequested();
            var got = answer(c.Prompt).Trim();
            examples.Add(new AnswerExample(c.Row, c.Question, c.Answer, got,
                AnswerMetrics.ExactMatch(c.Answer, got), AnswerMetrics.TokenF1(c.Answer, got), AnswerMetrics.RougeL(c.Answer, got)));
        }
        return FromExamples(examples);
    }

    public static AnswerEvaluation FromExamples(IReadOnlyList<AnswerExample> examples)
    {
        double Mean(Func<AnswerExample, double> f) => examples.Count == 0 ? 0 : examples.Average(f);
        var ranked = examples.OrderByDescending(e => e.TokenF1).ThenByDescending(e => e.RougeL).ThenBy(e => e.Row).ToList();
        // With few questions the two lists split them instead of showing the same answers twice.
        var bestCount = Math.Min(SideBySide, (ranked.Count + 1) / 2);
        var best = ranked.Take(bestCount).ToList();
        var worst = ranked.Skip(bestCount).Reverse().Take(SideBySide).ToList();
        return new AnswerEvaluation(examples.Count, Mean(e => e.ExactMatch), Mean(e => e.TokenF1), Mean(e => e.RougeL), best, worst, examples);
    }

    /// <summary>"Exact match 12.5%, token F1 0.431, ROUGE-L 0.402 on 40 held-out questions."</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"Exact match {ExactMatch * 100:0.0}%, token F1 {TokenF1:0.000}, ROUGE-L {RougeL:0.000} on {Questions:N0} held-out question{(Questions == 1 ? "" : "s")}.");
}
