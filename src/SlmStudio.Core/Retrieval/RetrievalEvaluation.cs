
namespace SlmStudio.Core.Retrieval;

/// <summary>
/// One goal test for search: a question and where its answer is. A passage is right when it comes from
/// <paramref name="ExpectedFile"/>, its heading path contains <paramref name="ExpectedHeading"/> (when given) and its
/// text contains <paramref name="ExpectedText"/> (when given); all comparisons ignore case.
/// </summary>
public sealed record RetrievalQuestion(string Question, string ExpectedFile, string? ExpectedHeading = null, string? ExpectedText = null)
{
    public bool IsAnsweredBy(Passage p) =>
        IsFromExpectedPlace(p) && (ExpectedText is null || p.Text.Contains(ExpectedText, StringComparison.OrdinalIgnoreCase));

    /// <summary>The passage comes from the expected file and section, whatever its text: what a citation must point at.</summary>
    public bool IsFromExpectedPlace(Passage p) =>
        string.Equals(p.File, ExpectedFile, StringComparison.OrdinalIgnoreCase)
        && (ExpectedHeading is null || p.Heading.Contains(ExpectedHeading, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Reads the form users write goal tests in: "question -> file", "question -> file / section" or
    /// "question -> file / section / must contain" (the section may be left empty: "file / / words").
    /// </summary>
    public static RetrievalQuestion Parse(string line)
    {
        var arrow = line.LastIndexOf("->", StringComparison.Ordinal);
        if (arrow <= 0)
            throw new FormatException($"'{line}' is not a goal test: write the question, then '->', then the file (and optionally ' / section' and ' / words the passage must contain').");
        var question = line[..arrow].Trim();
        var parts = line[(arrow + 2)..].Split('/', 3, StringSplitOptions.TrimEntries);
        if (question.Length == 0 || parts[0].Length == 0)
            throw new FormatException($"'{line}' needs both a question before '->' and a file name after it.");
        static string? Part(string[] parts, int i) => i < parts.Length && parts[i].Length > 0 ? parts[i] : null;
        return new RetrievalQuestion(question, parts[0], Part(parts, 1), Part(parts, 2));
    }
}

/// <summary>How one question did: the rank (1-based) of the first right passage, or null when none was returned.</summary>
public sealed record QuestionOutcome(RetrievalQuestion Question, int? Rank, bool NoGoodMatch, IReadOnlyList<SearchHit> Hits);

/// <summary>Recall at k: the share of questions with a right passage among the first k results.</summary>
public sealed record RecallReport(IReadOnlyDictionary<int, double> RecallAtK, IReadOnlyList<QuestionOutcome> Questions)
{
    public double RecallAt(int k) => RecallAtK.TryGetValue(k, out var r) ? r
        : throw new ArgumentOutOfRangeException(nameof(k), $"Recall at {k} was not measured (measured: {string.Join(", ", RecallAtK.Keys)}).");

    public override string ToString() => string.Join(", ", RecallAtK.OrderBy(kv => kv.Key).Select(kv => $"recall@{kv.Key} {kv.Value:0.00}"))
        + $" on {Questions.Count} questions";
}

/// <summary>A search to evaluate: the question and how many passages to return (BM25 alone, or BM25 with semantic search).</summary>
public delegate SearchResults RetrievalSearch(string question, int top);

public static class RetrievalEvaluation
{
    public static readonly IReadOnlyList<int> DefaultKs = [1, 3, 5];

    /// <summary>Searches every question (the first max(k) results, with the same relevance rule users get) and scores recall at each k.</summary>
    public static RecallReport Evaluate(SearchIndex index, IEnumerable<RetrievalQuestion> questions, IReadOnlyList<int>? ks = null,
        SearchOptions? options = null, CancellationToken ct = default) =>
        Evaluate((question, top) => index.Search(question, top, options), questions, ks, ct);

    /// <summary>Recall at each k of any search (for example <see cref="HybridSearch"/>), with the questions searched in order.</summary>
    public static RecallReport Evaluate(RetrievalSearch search, IEnumerable<RetrievalQuestion> questions, IReadOnlyList<int>? ks = null,
        CancellationToken ct = default)
    {
        ks ??= DefaultKs;
        if (ks.Count == 0 || ks.Any(k => k < 1)) throw new ArgumentException("Recall is measured at one or more positive ranks, such as 1, 3 and 5.", nameof(ks));
        var depth = ks.Max();
        var outcomes = new List<QuestionOutcome>();
        foreach (var q in questions)
        {
            ct.ThrowIfCancellationRequested();
            var results = search(q.Question, depth);
            var rank = results.Hits.FirstOrDefault(h => q.IsAnsweredBy(h.Passage))?.Rank;
            outcomes.Add(new QuestionOutcome(q, rank, results.NoGoodMatch, results.Hits));
        }
        var recall = ks.Distinct().Order().ToDictionary(k => k,
            k => outcomes.Count == 0 ? 0 : outcomes.Count(o => o.Rank is { } r && r <= k) / (double)outcomes.Count);
        return new RecallReport(recall, outcomes);
    }
}
