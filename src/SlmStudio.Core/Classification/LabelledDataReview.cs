using System.Globalization;
using System.Text.Json.Serialization;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Classification;

[JsonConverter(typeof(JsonStringEnumConverter<ReviewFindingKind>))]
public enum ReviewFindingKind { TooFewLabels, EmptyText, MissingLabel, LabelVariants, ConflictingLabels, FewExamples, DominantLabel }

/// <summary>
/// One thing the user should know about their labelled data, in plain English: what is wrong, what to do, and the rows
/// concerned (all of them; the message names only the first few).
/// </summary>
public sealed record ReviewFinding(ReviewFindingKind Kind, ProblemSeverity Severity, string Message, string Fix, IReadOnlyList<int> Rows);

/// <summary>How many usable examples carry one label (a bar of the chart).</summary>
public sealed record LabelCount(string Label, int Count);

public sealed record ReviewOptions
{
    /// <summary>Below this many examples a label is flagged: a model cannot learn a label from a handful of rows.</summary>
    public int MinExamplesPerLabel { get; init; } = 5;

    /// <summary>Messages list at most this many rows, labels or conflicts; <see cref="ReviewFinding.Rows"/> holds them all.</summary>
    public int MaxListed { get; init; } = 10;

    public static ReviewOptions Default { get; } = new();
}

/// <summary>
/// The review of a labelled data set before training: counts per label (usable rows only, labels as written) and
/// findings ordered from the most to the least serious.
/// </summary>
public sealed record LabelledDataReview(int Rows, int UsableRows, IReadOnlyList<LabelCount> Counts, IReadOnlyList<ReviewFinding> Findings)
{
    public bool CanTrain => !Findings.Any(f => f.Severity == ProblemSeverity.Error);

    public static LabelledDataReview Of(IReadOnlyList<LabelledExample> examples, ReviewOptions? options = null)
    {
        options ??= ReviewOptions.Default;
        var findings = new List<ReviewFinding>();
        var usable = examples.Where(e => e.IsUsable).ToList();
        var counts = usable.GroupBy(e => e.Label, StringComparer.Ordinal)
            .Select(g => new LabelCount(g.Key, g.Count()))
            .OrderByDescending(c => c.Count).ThenBy(c => c.Label, StringComparer.Ordinal).ToList();

        EmptyTexts(examples, options, findings);
        MissingLabels(examples, options, findings);
        var groups = LabelVariants(counts, usable, options, findings);
        if (groups < 2)
            findings.Add(new ReviewFinding(ReviewFindingKind.TooFewLabels, ProblemSeverity.Error,
                groups == 0 ? "There are no rows with both a text and a label, so there is nothing to learn from."
                            : $"Every usable row has the same label ({Quote(counts[0].Label)}). A model needs at least two different labels to learn to tell them apart.",
                "Check that the right column is picked as the label column, and add examples of the other labels.", []));
        ConflictingLabels(usable, options, findings);
        FewExamples(counts, usable, options, findings);
        DominantLabel(counts, usable.Count, groups, findings);

        var ordered = findings.OrderByDescending(f => f.Severity).ToList(); // stable: keeps the order above within a severity
        return new LabelledDataReview(examples.Count, usable.Count, counts, ordered);
    }

    /// <summary>
    /// The examples with labels that differ only by case or spaces written one way: the most common spelling in each
    /// group (trimmed), so that "Billing" and "billing " become one label. Use it when the user accepts that fix.
    /// </summary>
    public static IReadOnlyList<LabelledExample> MergeLabelVariants(IReadOnlyList<LabelledExample> examples)
    {
        var canonical = examples.Where(e => e.IsUsable)
            .GroupBy(e => LabelKey(e.Label), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.GroupBy(e => e.Label.Trim(), StringComparer.Ordinal)
                .OrderByDescending(s => s.Count()).ThenBy(s => s.Key, StringComparer.Ordinal).First().Key, StringComparer.Ordinal);
        return [.. examples.Select(e => e.IsUsable ? e with { Label = canonical[LabelKey(e.Label)] } : e)];
    }

    /// <summary>The form two labels share when they differ only by case or spaces.</summary>
    public static string LabelKey(string label) => CollapseSpaces(label).ToLowerInvariant();

    private static void EmptyTexts(IReadOnlyList<LabelledExample> examples, ReviewOptions options, List<ReviewFinding> findings)
    {
        var rows = examples.Where(e => string.IsNullOrWhiteSpace(e.Text)).Select(e => e.Row).ToList();
        if (rows.Count == 0) return;
        findings.Add(new ReviewFinding(ReviewFindingKind.EmptyText, ProblemSeverity.Warning,
            $"{Count(rows.Count, "row has", "rows have")} no text ({RowList(rows, options)}). {(rows.Count == 1 ? "It is" : "They are")} left out of training.",
            "Fill in the text of those rows, or delete them if they are not needed.", rows));
    }

    private static void MissingLabels(IReadOnlyList<LabelledExample> examples, ReviewOptions options, List<ReviewFinding> findings)
    {
        var rows = examples.Where(e => !string.IsNullOrWhiteSpace(e.Text) && string.IsNullOrWhiteSpace(e.Label)).Select(e => e.Row).ToList();
        if (rows.Count == 0) return;
        findings.Add(new ReviewFinding(ReviewFindingKind.MissingLabel, ProblemSeverity.Warning,
            $"{Count(rows.Count, "row has", "rows have")} a text but no label ({RowList(rows, options)}). {(rows.Count == 1 ? "It is" : "They are")} left out of training.",
            "Give each of those rows its label, or delete the rows you cannot label.", rows));
    }

    /// <returns>The number of distinct labels once case and spaces are ignored.</returns>
    private static int LabelVariants(IReadOnlyList<LabelCount> counts, IReadOnlyList<LabelledExample> usable, ReviewOptions options, List<ReviewFinding> findings)
    {
        var groups = counts.GroupBy(c => LabelKey(c.Label), StringComparer.Ordinal).ToList();
        var clashing = groups.Where(g => g.Count() > 1).ToList();
        if (clashing.Count > 0)
        {
            var descriptions = clashing.Take(options.MaxListed).Select(g => string.Join(" and ", g.Select(c => $"{Quote(c.Label)} ({Count(c.Count, "row", "rows")})")));
            var keys = clashing.Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
            var rows = usable.Where(e => keys.Contains(LabelKey(e.Label))).Select(e => e.Row).Order().ToList();
            var more = clashing.Count > options.MaxListed ? $" and {clashing.Count - options.MaxListed} more groups" : "";
            findings.Add(new ReviewFinding(ReviewFindingKind.LabelVariants, ProblemSeverity.Warning,
                $"Some labels differ only by capital letters or spaces, so they count as different labels: {string.Join("; ", descriptions)}{more}.",
                "Write each label the same way everywhere in the file, or merge them here: each group becomes its most common spelling.", rows));
        }
        return groups.Count;
    }

    private static void ConflictingLabels(IReadOnlyList<LabelledExample> usable, ReviewOptions options, List<ReviewFinding> findings)
    {
        // Texts are compared ignoring case and spaces; labels ignoring case and spaces too (those are reported above).
        var conflicts = usable.GroupBy(e => CollapseSpaces(e.Text).ToLowerInvariant(), StringComparer.Ordinal)
            .Where(g => g.Select(e => LabelKey(e.Label)).Distinct(StringComparer.Ordinal).Count() > 1)
            .OrderBy(g => g.Min(e => e.Row)).ToList();
        if (conflicts.Count == 0) return;
        var listed = conflicts.Take(options.MaxListed).Select(g =>
            $"{Quote(Shorten(g.First().Text))} is labelled " +
            string.Join(" and ", g.GroupBy(e => e.Label.Trim(), StringComparer.Ordinal).Select(l => $"{Quote(l.Key)} ({RowWords(l.Select(e => e.Row).ToList(), options)})")));
        var more = conflicts.Count > options.MaxListed ? $" … and {conflicts.Count - options.MaxListed} more." : "";
        findings.Add(new ReviewFinding(ReviewFindingKind.ConflictingLabels, ProblemSeverity.Warning,
            $"{Count(conflicts.Count, "text appears", "texts appear")} more than once with different labels, which teaches the model two answers for the same text: {string.Join("; ", listed)}.{more}",
            "Decide which label is right for each of these texts and correct the others, or delete the duplicates.",
            [.. conflicts.SelectMany(g => g.Select(e => e.Row)).Order()]));
    }

    private static void FewExamples(IReadOnlyList<LabelCount> counts, IReadOnlyList<LabelledExample> usable, ReviewOptions options, List<ReviewFinding> findings)
    {
        var few = counts.Where(c => c.Count < options.MinExamplesPerLabel).OrderBy(c => c.Count).ThenBy(c => c.Label, StringComparer.Ordinal).ToList();
        if (few.Count == 0) return;
        var names = few.Select(c => c.Label).ToHashSet(StringComparer.Ordinal);
        var more = few.Count > options.MaxListed ? $" and {few.Count - options.MaxListed} more" : "";
        findings.Add(new ReviewFinding(ReviewFindingKind.FewExamples, ProblemSeverity.Warning,
            $"{Count(few.Count, "label has", "labels have")} fewer than {options.MinExamplesPerLabel} examples: " +
            $"{string.Join(", ", few.Take(options.MaxListed).Select(c => $"{Quote(c.Label)} ({c.Count})"))}{more}. The model will rarely get {(few.Count == 1 ? "it" : "these")} right, and the test figures for {(few.Count == 1 ? "it" : "them")} mean little.",
            $"Add more examples of {(few.Count == 1 ? "that label" : "those labels")} (at least {options.MinExamplesPerLabel}, better 20 or more), or merge {(few.Count == 1 ? "it" : "them")} into a related label.",
            [.. usable.Where(e => names.Contains(e.Label)).Select(e => e.Row).Order()]));
    }

    private static void DominantLabel(IReadOnlyList<LabelCount> counts, int total, int groups, List<ReviewFinding> findings)
    {
        if (groups < 2 || total == 0) return;
        var top = counts[0];
        var share = (double)top.Count / total;
        // "Most of the data": more than half when there are three labels or more; with two, a 60/40 split is ordinary,
        // so the flag waits for 80%.
        var threshold = groups == 2 ? 0.8 : 0.5;
        if (share <= threshold) return;
        findings.Add(new ReviewFinding(ReviewFindingKind.DominantLabel, ProblemSeverity.Info,
            $"One label holds most of the examples: {Quote(top.Label)} has {top.Count.ToString("N0", CultureInfo.InvariantCulture)} of {total.ToString("N0", CultureInfo.InvariantCulture)} " +
            $"({Math.Round(share * 100).ToString(CultureInfo.InvariantCulture)}%). A model that always answers {Quote(top.Label)} would already be right that often, so look at the figures per label, not only at the overall score.",
            "Training gives the rarer labels more weight to make up for this. More examples of the other labels help most.", []));
    }

    private static string CollapseSpaces(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>A label or text in quotes, with spaces at either end made visible (they are the whole difference at times).</summary>
    internal static string Quote(string s)
    {
        var lead = s.Length - s.TrimStart().Length;
        var trail = s.Length - s.TrimEnd().Length;
        var note = (lead, trail) switch
        {
            (0, 0) => "",
            (0, _) => $" with {Count(trail, "space", "spaces")} at the end",
            (_, 0) => $" with {Count(lead, "space", "spaces")} at the start",
            _ => " with spaces at both ends",
        };
        return $"\"{SafeFileName.ForDisplay(s.Trim())}\"{note}";
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57].TrimEnd() + "…";

    private static string Count(int n, string one, string many) => $"{n.ToString("N0", CultureInfo.InvariantCulture)} {(n == 1 ? one : many)}";

    private static string RowWords(IReadOnlyList<int> rows, ReviewOptions options) => (rows.Count == 1 ? "row " : "rows ") + Numbers(rows, options);

    private static string RowList(IReadOnlyList<int> rows, ReviewOptions options) => RowWords(rows, options);

    private static string Numbers(IReadOnlyList<int> rows, ReviewOptions options)
    {
        var shown = string.Join(", ", rows.Take(options.MaxListed));
        return rows.Count > options.MaxListed ? $"{shown} and {rows.Count - options.MaxListed} more" : shown;
    }
}
