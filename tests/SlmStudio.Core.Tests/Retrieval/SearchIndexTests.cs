using SlmStudio.Core.Retrieval;
using SlmStudio.Core.Tests.Data;
using Xunit.Abstractions;

namespace SlmStudio.Core.Tests.Retrieval;

/// <summary>The handbook corpus, split and indexed once for the search tests.</summary>
public sealed class HandbookIndex : IDisposable
{
    private readonly TempFolder folder = new();
    public IReadOnlyList<Passage> Passages { get; }
    public SearchIndex Index { get; }
    public string IndexFolder { get; }
    public List<IndexProgress> Progress { get; } = [];

    public HandbookIndex()
    {
        Passages = PassageSplitter.SplitAll(HandbookCorpus.Extract(folder));
        IndexFolder = folder.File(Path.Combine("version", SearchIndex.DefaultFolderName));
        Index = SearchIndex.Build(Passages, IndexFolder, new SynchronousProgress<IndexProgress>(Progress.Add));
    }

    public void Dispose()
    {
        Index.Dispose();
        folder.Dispose();
    }
}

/// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool, so a test could read it too early).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

public sealed class SearchIndexTests(HandbookIndex handbook, ITestOutputHelper output) : IClassFixture<HandbookIndex>
{
    [Fact]
    public void Every_question_finds_its_passage_in_the_top_three()
    {
        var report = RetrievalEvaluation.Evaluate(handbook.Index, HandbookCorpus.Questions);
        foreach (var o in report.Questions)
            output.WriteLine($"{o.Rank?.ToString() ?? "-"}  {o.Question.Question}  => {string.Join(" | ", o.Hits.Take(3).Select(h => $"{h.Passage.Id} ({h.Passage.Heading}) {h.Score:0.00} cov {h.QueryCoverage:0.00}"))}");
        output.WriteLine(report.ToString());
        var missed = report.Questions.Where(o => o.Rank is null or > 3).Select(o => $"'{o.Question.Question}' (rank {o.Rank?.ToString() ?? "none"})").ToList();
        Assert.True(missed.Count == 0, "Not in the top 3: " + string.Join(", ", missed));
        Assert.Equal(1.0, report.RecallAt(3));
        Assert.True(report.RecallAt(1) <= report.RecallAt(3) && report.RecallAt(3) <= report.RecallAt(5));
    }

    [Fact]
    public void Unrelated_questions_get_an_explicit_no_good_match()
    {
        foreach (var question in HandbookCorpus.UnrelatedQuestions)
        {
            var results = handbook.Index.Search(question);
            Assert.True(results.NoGoodMatch, $"'{question}' matched {string.Join(", ", results.Hits.Select(h => $"{h.Passage.Id} cov {h.QueryCoverage:0.00}"))}");
            Assert.Empty(results.Hits);
            Assert.Equal(SearchResults.NoGoodMatchMessage, results.Message);
        }
        var empty = handbook.Index.Search("What is it?");
        Assert.True(empty.NoGoodMatch);
        Assert.Equal(SearchResults.NoSearchWordsMessage, empty.Message);
    }

    [Fact]
    public void The_relevance_rule_is_the_weighted_share_of_the_question_a_passage_contains()
    {
        // "moonlighting" is in one passage, "cheese" in none: each carries about half of the question's weight.
        var half = handbook.Index.Search("moonlighting cheese");
        var hit = Assert.Single(half.Hits);
        Assert.InRange(hit.QueryCoverage, 0.45, 0.55);
        Assert.True(handbook.Index.Search("moonlighting cheese", options: new SearchOptions { MinQueryCoverage = 0.6 }).NoGoodMatch);
        Assert.Equal(1.0, handbook.Index.Search("moonlighting").Hits[0].QueryCoverage, 6);
    }

    [Fact]
    public void Hits_carry_their_source_and_highlighted_matching_words()
    {
        var results = handbook.Index.Search("How do we handle moonlighting?");
        Assert.Equal(["handl", "moonlight"], results.QueryTerms);
        var top = results.Hits[0];
        Assert.Equal(1, top.Rank);
        Assert.Equal("handbook.md", top.Passage.File);
        Assert.Equal("Employee Handbook › Second jobs and outside work", top.Passage.Heading);
        Assert.True(top.Score > 0);
        var match = Assert.Single(top.Matches);
        Assert.Equal("Moonlighting", top.Passage.Text.Substring(match.Start, match.Length));
        Assert.Contains("«Moonlighting»", top.Snippet.Marked());
        Assert.Contains("<mark>Moonlighting</mark>", top.Snippet.Marked("<mark>", "</mark>"));

        var pdf = handbook.Index.Search("first aid kits").Hits[0];
        Assert.Equal(("safety.pdf", 2), (pdf.Passage.File, pdf.Passage.Page));
        Assert.NotEmpty(pdf.HeadingMatches);
        var csv = handbook.Index.Search("parking garage Berlin").Hits[0];
        Assert.Equal(("offices.csv", 2), (csv.Passage.File, csv.Passage.Row));
    }

    [Fact]
    public void A_long_passage_gets_a_snippet_around_its_matches()
    {
        var text = string.Join(" ", Enumerable.Repeat("Filler words about nothing in particular.", 40)) + " The sabbatical lasts three months. "
            + string.Join(" ", Enumerable.Repeat("More filler words here.", 40));
        var start = text.IndexOf("sabbatical", StringComparison.Ordinal);
        var snippet = Highlighting.BestSnippet(text, [new TextSpan(start, "sabbatical".Length)], ["sabbat"], 120);
        Assert.True(snippet.CutAtStart && snippet.CutAtEnd);
        Assert.InRange(snippet.Text.Length, 60, 130);
        Assert.Contains("«sabbatical»", snippet.Marked());
        Assert.StartsWith("…", snippet.Marked());
    }

    [Fact]
    public void The_index_is_written_whole_with_a_manifest_that_verifies()
    {
        Assert.True(File.Exists(Path.Combine(handbook.IndexFolder, SearchIndex.ManifestName)));
        Assert.True(SearchIndex.Verify(handbook.IndexFolder));
        Assert.Equal(handbook.Passages.Count, handbook.Index.Manifest.Passages);
        Assert.Equal(handbook.Passages.Count, handbook.Index.PassageCount);
        Assert.Equal(SearchIndex.HashPassages(handbook.Passages), handbook.Index.Manifest.PassagesSha256);
        Assert.All(handbook.Index.Manifest.Files, f => Assert.Matches("^[0-9a-f]{64}$", f.Sha256));
        // Nothing of the temporary build folder is left beside the index.
        Assert.Equal([SearchIndex.DefaultFolderName], Directory.GetFileSystemEntries(Path.GetDirectoryName(handbook.IndexFolder)!).Select(Path.GetFileName));
        Assert.Equal(new IndexProgress(handbook.Passages.Count, handbook.Passages.Count), handbook.Progress[^1]);
        Assert.Equal(handbook.Passages, handbook.Index.AllPassages());
    }

    [Fact]
    public void An_index_is_immutable_and_a_changed_file_is_detected()
    {
        using var temp = new TempFolder();
        var folder = temp.File("index");
        var passages = handbook.Passages.Take(5).ToList();
        using (SearchIndex.Build(passages, folder)) { }
        // Building the same passages again opens what is there; other passages are refused.
        using (var again = SearchIndex.Build(passages, folder)) Assert.Equal(5, again.PassageCount);
        var error = Assert.Throws<EngineException>(() => SearchIndex.Build(handbook.Passages.Take(6).ToList(), folder));
        Assert.Contains("already holds a search index of other documents", error.Message);

        Assert.True(SearchIndex.Verify(folder));
        var victim = Directory.GetFiles(folder).First(f => !f.EndsWith(SearchIndex.ManifestName, StringComparison.Ordinal));
        File.AppendAllText(victim, "x");
        Assert.False(SearchIndex.Verify(folder));
        File.Delete(victim);
        Assert.False(SearchIndex.Verify(folder));

        var missing = Assert.Throws<EngineException>(() => SearchIndex.Open(temp.File("nowhere")));
        Assert.Contains("Build the index", missing.Message);
        foreach (var segments in Directory.GetFiles(folder, "segments*")) File.Delete(segments);
        var damaged = Assert.Throws<EngineException>(() => SearchIndex.Open(folder));
        Assert.Contains("damaged or incomplete", damaged.Message);
    }

    [Fact]
    public void A_cancelled_build_leaves_nothing_behind()
    {
        using var temp = new TempFolder();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => SearchIndex.Build(handbook.Passages, temp.File("index"), ct: cts.Token));
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void Many_searches_at_once_give_the_same_results_as_one_at_a_time()
    {
        var questions = HandbookCorpus.Questions.Select(q => q.Question).ToList();
        var expected = questions.Select(q => string.Join(",", handbook.Index.Search(q).Hits.Select(h => h.Passage.Id))).ToList();
        var actual = new string[questions.Count * 8];
        Parallel.For(0, actual.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            i => actual[i] = string.Join(",", handbook.Index.Search(questions[i % questions.Count]).Hits.Select(h => h.Passage.Id)));
        for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i % questions.Count], actual[i]);
    }
}
