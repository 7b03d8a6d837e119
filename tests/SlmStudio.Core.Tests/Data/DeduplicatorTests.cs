using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

public sealed class DeduplicatorTests
{
    private const string Dental =
        "Dental insurance: the company pays 80% of the monthly premium for employees and 50% for their dependants. " +
        "Enrolment opens on 1 March and the plan covers two check-ups per year. Claims go to the Dental plan administrator within 90 days.";
    private const string Vision =
        "Vision insurance: the company pays 70% of the monthly premium for employees and 50% for their dependants. " +
        "Enrolment opens on 1 March and the plan covers one check-up per year. Claims go to the Vision plan administrator within 60 days.";

    private static SourcedRecord R(string file, int line, string text) => new(file, new TextRecord(text, line));

    [Fact]
    public void DifferentFactsWithMostWordsSharedAreNotDuplicates()
    {
        // The handbook case from issue 12: these two were 97% "similar" by word 3-gram overlap and one was dropped.
        var result = Deduplicator.Deduplicate([R("handbook.pdf", 4, Dental), R("handbook.pdf", 5, Vision)], new DeduplicationOptions { RemoveAllNear = true });
        Assert.Equal(2, result.Kept.Count);
        Assert.Empty(result.NearPairs);
        Assert.Equal(0, Deduplicator.NearSimilarity(Deduplicator.Words(Dental), Deduplicator.Words(Vision)));
    }

    [Theory]
    [InlineData("Parking is free for all employees at the Berlin office from Monday to Friday.", "Parking is free for all employees at the Munich office from Monday to Friday.")]   // a name
    [InlineData("Employees get 25 days of paid holiday per calendar year, plus public holidays.", "Employees get 30 days of paid holiday per calendar year, plus public holidays.")]   // a number
    [InlineData("Employees must submit travel expenses within thirty days of the trip ending.", "Employees must submit travel receipts within thirty days of the trip ending.")]        // a word
    [InlineData("The premium plan costs 12 euros per month and includes phone support for customers.", "The premium plan costs 12 euros per month and excludes phone support for customers.")] // includes/excludes
    public void OneDistinctiveDifferenceKeepsBoth(string first, string second)
    {
        var result = Deduplicator.Deduplicate([R("a.txt", 1, first), R("a.txt", 3, second)], new DeduplicationOptions { RemoveAllNear = true });
        Assert.Equal(2, result.Kept.Count);
        Assert.Empty(result.NearPairs);
    }

    [Theory]
    [InlineData("Employees must submit travel expenses within thirty days of the trip ending.", "Employees must submit travel expneses within thirty days of the trip ending.")]   // swapped letters
    [InlineData("Employees must submit travel expenses within thirty days of the trip ending.", "Employees must submit their travel expenses within thirty days of trip ending.")] // function words
    [InlineData("Employees must submit travel expenses within thirty days of the trip ending.", "EMPLOYEES must submit travel expenses — within thirty days of the trip ending!!")] // case, punctuation: exact
    public void BoilerplateDifferencesAreDuplicates(string first, string second)
    {
        var found = Deduplicator.Deduplicate([R("a.txt", 1, first), R("b.txt", 7, second)]);
        Assert.Equal(1, found.ExactRemoved + found.NearPairs.Count);
    }

    [Fact]
    public void NearPairsAreReportedAndRemovedOnlyByChoice()
    {
        var records = new List<SourcedRecord>
        {
            R("a.txt", 1, "Employees must submit travel expenses within thirty days of the trip ending."),
            R("a.txt", 3, "Please send questions about the new payroll system to the finance team by Friday."),
            R("b.txt", 2, "Employees must submit travel expneses within thirty days of the trip ending."),
            R("b.txt", 5, "Please send questions about the new payrol system to the finance team by Friday."),
            R("c.txt", 1, "Please send questions about the new payroll system to the finance team by Friday."),
        };
        var review = Deduplicator.Deduplicate(records);
        Assert.Equal(1, review.ExactRemoved);
        Assert.Equal(0, review.NearRemoved);
        Assert.Equal(4, review.Kept.Count);
        Assert.Equal(2, review.NearPairs.Count);
        var pair = review.NearPairs[0];
        Assert.Equal(("a.txt", (int?)1, "b.txt", (int?)2), (pair.FirstFile, pair.FirstLine, pair.SecondFile, pair.SecondLine));
        Assert.Contains("expneses", pair.SecondText);
        Assert.InRange(pair.Similarity, 0.85, 0.99);
        Assert.False(pair.Removed);

        // The user removes the first pair's second record only; the id is the same on a second run.
        var chosen = Deduplicator.Deduplicate(records, new DeduplicationOptions { RemoveNearIds = new HashSet<string> { pair.Id } });
        Assert.Equal(review.NearPairs.Select(p => p.Id), chosen.NearPairs.Select(p => p.Id));
        Assert.Equal(1, chosen.NearRemoved);
        Assert.DoesNotContain(chosen.Kept, k => k.Record.Text.Contains("expneses"));
        Assert.Contains(chosen.Kept, k => k.Record.Text.Contains("payrol "));
        Assert.Equal([true, false], chosen.NearPairs.Select(p => p.Removed));
    }

    [Theory]
    [InlineData("expenses", "expneses", true)]
    [InlineData("dental", "rental", false)]
    [InlineData("vision", "dental", false)]
    [InlineData("2024", "2025", false)]
    [InlineData("cat", "cut", false)]
    [InlineData("administrator", "adminstrator", true)]
    public void WhatCountsAsATypo(string x, string y, bool typo) => Assert.Equal(typo, Deduplicator.IsTypo(x, y));
}
