using SlmStudio.Core.Classification;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Classification;

public class LabelledDataReviewTests
{
    private static List<LabelledExample> Rows(params (string Text, string Label)[] rows) =>
        [.. rows.Select((r, i) => new LabelledExample(r.Text, r.Label, i + 2))];

    private static IEnumerable<(string, string)> Many(string label, int n, string prefix) =>
        Enumerable.Range(0, n).Select(i => ($"{prefix} message number {i}", label));

    [Fact]
    public void Reads_csv_rows_keeping_empty_texts_and_labels_as_typed()
    {
        var csv = "text,label\nMy invoice is wrong,Billing\n,Billing\nReset my password,\"billing \"\nWhere is my parcel,\n";
        var file = LabelledData.Read(csv, DocumentKind.Csv, "tickets.csv", "text", "label");
        Assert.Empty(file.Problems);
        Assert.Equal(4, file.Examples.Count);
        Assert.Equal(new LabelledExample("My invoice is wrong", "Billing", 2), file.Examples[0]);
        Assert.Equal(("", 3), (file.Examples[1].Text, file.Examples[1].Row));
        Assert.Equal("billing ", file.Examples[2].Label);
        Assert.False(file.Examples[3].IsUsable);
    }

    [Fact]
    public void Reading_a_missing_column_is_an_error_naming_the_columns()
    {
        var file = LabelledData.Read("{\"body\":\"hi\",\"intent\":\"greet\"}\n", DocumentKind.Jsonl, "x.jsonl", "text", "intent");
        var problem = Assert.Single(file.Problems);
        Assert.Equal(ProblemSeverity.Error, problem.Severity);
        Assert.Contains("'text'", problem.Message);
        Assert.Contains("'body'", problem.Message);
        Assert.False(file.IsUsable);
    }

    [Fact]
    public void Finds_each_kind_of_problem_with_its_rows()
    {
        var rows = Rows([
            .. Many("Billing", 20, "billing"),
            ("I was charged twice", "Billing"),          // row 22
            ("i was charged  TWICE", "Refunds"),          // row 23: same text, other label
            .. Many("billing ", 3, "more billing"),       // rows 24-26: differs only by case and a trailing space
            .. Many("Refunds", 10, "refund"),
            ("", "Refunds"),                              // row 37: empty text
            .. Many("Cancel", 2, "cancel"),               // rows 38-39: too few
            ("Where is my parcel", " "),                  // row 40: no label
        ]);
        var review = LabelledDataReview.Of(rows);

        Assert.Equal(39, review.Rows);
        Assert.Equal(37, review.UsableRows);
        Assert.Equal([new LabelCount("Billing", 21), new LabelCount("Refunds", 11), new LabelCount("billing ", 3), new LabelCount("Cancel", 2)], review.Counts);
        Assert.True(review.CanTrain);

        var empty = review.Findings.Single(f => f.Kind == ReviewFindingKind.EmptyText);
        Assert.Equal([37], empty.Rows);
        Assert.Contains("row 37", empty.Message);

        var missing = review.Findings.Single(f => f.Kind == ReviewFindingKind.MissingLabel);
        Assert.Equal([40], missing.Rows);

        var variants = review.Findings.Single(f => f.Kind == ReviewFindingKind.LabelVariants);
        Assert.Contains("\"Billing\" (21 rows) and \"billing\" with 1 space at the end (3 rows)", variants.Message);
        Assert.Equal(24, variants.Rows.Count);

        var conflict = review.Findings.Single(f => f.Kind == ReviewFindingKind.ConflictingLabels);
        Assert.Equal([22, 23], conflict.Rows);
        Assert.Contains("\"I was charged twice\" is labelled \"Billing\" (row 22) and \"Refunds\" (row 23)", conflict.Message);

        var few = review.Findings.Single(f => f.Kind == ReviewFindingKind.FewExamples);
        Assert.Contains("\"Cancel\" (2)", few.Message);
        Assert.Contains("\"billing\" with 1 space at the end (3)", few.Message);
        Assert.Equal(5, few.Rows.Count);

        // 21 of 37 is 57% with four labels (three once case is ignored): more than half.
        var dominant = review.Findings.Single(f => f.Kind == ReviewFindingKind.DominantLabel);
        Assert.Contains("\"Billing\" has 21 of 37 (57%)", dominant.Message);
    }

    [Fact]
    public void Clean_balanced_data_has_no_findings()
    {
        var review = LabelledDataReview.Of(Rows([.. Many("A", 6, "alpha"), .. Many("B", 5, "beta"), .. Many("C", 5, "gamma")]));
        Assert.Empty(review.Findings);
    }

    [Fact]
    public void Two_labels_are_flagged_as_dominated_only_past_eighty_percent()
    {
        Assert.DoesNotContain(LabelledDataReview.Of(Rows([.. Many("yes", 70, "y"), .. Many("no", 30, "n")])).Findings, f => f.Kind == ReviewFindingKind.DominantLabel);
        Assert.Contains(LabelledDataReview.Of(Rows([.. Many("yes", 90, "y"), .. Many("no", 10, "n")])).Findings, f => f.Kind == ReviewFindingKind.DominantLabel);
    }

    [Fact]
    public void A_single_label_cannot_be_trained_even_when_spelled_two_ways()
    {
        var review = LabelledDataReview.Of(Rows([.. Many("Spam", 6, "s"), .. Many("spam", 6, "t")]));
        Assert.False(review.CanTrain);
        Assert.Equal(ReviewFindingKind.TooFewLabels, review.Findings[0].Kind);
    }

    [Fact]
    public void Merging_variants_uses_the_most_common_spelling()
    {
        var merged = LabelledDataReview.MergeLabelVariants(Rows(("a", "Billing"), ("b", "billing "), ("c", "Billing"), ("d", "Other"), ("", "x")));
        Assert.Equal(["Billing", "Billing", "Billing", "Other", "x"], merged.Select(e => e.Label));
    }
}

public class StratifiedSplitTests
{
    private static List<LabelledExample> Data()
    {
        var rows = new List<LabelledExample>();
        var sizes = new Dictionary<string, int> { ["big"] = 100, ["mid"] = 20, ["two"] = 2, ["one"] = 1 };
        foreach (var (label, n) in sizes)
            for (int i = 0; i < n; i++) rows.Add(new LabelledExample($"{label} {i}", label, rows.Count + 2));
        rows.Add(new LabelledExample("", "big", rows.Count + 2));
        return rows;
    }

    [Fact]
    public void Keeps_label_shares_and_puts_every_label_with_two_examples_in_both_parts()
    {
        var split = StratifiedSplit.Split(Data(), 0.2, seed: 7);
        int Count(IReadOnlyList<LabelledExample> part, string label) => part.Count(e => e.Label == label);
        Assert.Equal((80, 20), (Count(split.Train, "big"), Count(split.Validation, "big")));
        Assert.Equal((16, 4), (Count(split.Train, "mid"), Count(split.Validation, "mid")));
        Assert.Equal((1, 1), (Count(split.Train, "two"), Count(split.Validation, "two")));
        Assert.Equal((1, 0), (Count(split.Train, "one"), Count(split.Validation, "one")));
        Assert.DoesNotContain(split.Train.Concat(split.Validation), e => e.Text == "");
        Assert.Empty(split.Train.Select(e => e.Row).Intersect(split.Validation.Select(e => e.Row)));
        Assert.Equal(split.Train.Select(e => e.Row).Order(), split.Train.Select(e => e.Row));
    }

    [Fact]
    public void Same_seed_gives_the_same_split_and_another_seed_another()
    {
        var a = StratifiedSplit.Split(Data(), 0.2, seed: 7);
        var b = StratifiedSplit.Split(Data(), 0.2, seed: 7);
        var c = StratifiedSplit.Split(Data(), 0.2, seed: 8);
        Assert.Equal(a.Validation.Select(e => e.Row), b.Validation.Select(e => e.Row));
        Assert.NotEqual(a.Validation.Select(e => e.Row), c.Validation.Select(e => e.Row));
    }
}
