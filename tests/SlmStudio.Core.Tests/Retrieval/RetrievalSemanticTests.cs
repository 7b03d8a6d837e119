using SlmStudio.Core.Retrieval;
using Xunit.Abstractions;

namespace SlmStudio.Core.Tests.Retrieval;

/// <summary>The handbook index with its passages encoded once by the real stories260K model.</summary>
public sealed class HandbookVectors : IDisposable
{
    public HandbookIndex Handbook { get; } = new();
    public PassageEncoder Encoder { get; } = PassageEncoder.Open(Path.Combine(TestPaths.Fixtures, "stories260K-hf"));
    public string Folder { get; }
    public SemanticIndex Vectors { get; }

    public HandbookVectors()
    {
        Folder = DatasetSearch.SemanticFolder(Path.GetDirectoryName(Handbook.IndexFolder)!, Encoder.ModelKey);
        Vectors = SemanticIndex.OpenOrBuild(Handbook.Index, Encoder, Folder);
    }

    public void Dispose()
    {
        Encoder.Dispose();
        Handbook.Dispose();
    }
}

public sealed class RetrievalSemanticTests(HandbookVectors fixture, ITestOutputHelper output) : IClassFixture<HandbookVectors>
{
    [Fact]
    public void Reciprocal_rank_fusion_adds_one_over_sixty_plus_rank_from_each_list()
    {
        var fused = HybridSearch.Fuse(["a", "b", "c"], ["c", "d", "a"]);
        Assert.Equal(["a", "c", "b", "d"], fused.Select(f => f.Id));
        Assert.Equal(1.0 / 61 + 1.0 / 63, fused[0].Score, 12);
        Assert.Equal(1.0 / 63 + 1.0 / 61, fused[1].Score, 12); // same score as "a": the first list's order decides
        Assert.Equal(1.0 / 62, fused[2].Score, 12);
        Assert.Equal(1.0 / 62, fused[3].Score, 12);
    }

    [Fact]
    public void The_model_turns_text_into_unit_length_vectors_that_differ_by_content()
    {
        var encoder = fixture.Encoder;
        Assert.Equal(64, encoder.Dimension);
        var holiday = encoder.Encode("Every full-time employee gets 28 days of paid holiday.");
        Assert.Equal(holiday, encoder.Encode("Every full-time employee gets 28 days of paid holiday."));
        Assert.Equal(1.0, Math.Sqrt(holiday.Sum(v => (double)v * v)), 4);
        var fire = encoder.Encode("When the fire alarm sounds, leave the building by the nearest stairs.");
        Assert.NotEqual(holiday, fire);
        Assert.All(encoder.Encode(""), v => Assert.Equal(0f, v));
        Assert.Equal(64, encoder.ModelKey.Length);
        Assert.Equal(encoder.ModelKey, PassageEncoder.KeyOf(Path.Combine(TestPaths.Fixtures, "stories260K-hf")));
    }

    [Fact]
    public void Passage_vectors_are_kept_beside_the_index_reopened_unchanged_and_rebuilt_when_damaged()
    {
        var vectors = fixture.Vectors;
        Assert.Equal(fixture.Handbook.Passages.Count, vectors.Manifest.Passages);
        Assert.Equal(fixture.Handbook.Index.Manifest.PassagesSha256, vectors.Manifest.PassagesSha256);
        Assert.Equal(fixture.Encoder.ModelKey, vectors.Manifest.ModelKey);
        Assert.Equal(fixture.Handbook.Passages.Count * 64 * sizeof(float), new FileInfo(Path.Combine(fixture.Folder, SemanticIndex.VectorsFile)).Length);

        // Every passage is its own nearest neighbour.
        for (int i = 0; i < vectors.Passages.Count; i += 7)
        {
            var own = fixture.Encoder.Encode(PassageEncoder.TextOf(vectors.Passages[i]));
            var nearest = vectors.Nearest(own, 3);
            Assert.Equal(1.0, nearest[0].Cosine, 4);
            Assert.Equal(vectors.Passages[i].Id, vectors.Passages[nearest[0].Row].Id);
            Assert.True(nearest[0].Cosine >= nearest[1].Cosine && nearest[1].Cosine >= nearest[2].Cosine);
        }

        var reopened = SemanticIndex.OpenOrBuild(fixture.Handbook.Index, fixture.Encoder, fixture.Folder);
        Assert.Equal(vectors.Manifest, reopened.Manifest);

        var path = Path.Combine(fixture.Folder, SemanticIndex.VectorsFile);
        var bytes = File.ReadAllBytes(path);
        bytes[10] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        var rebuilt = SemanticIndex.OpenOrBuild(fixture.Handbook.Index, fixture.Encoder, fixture.Folder);
        Assert.NotEqual(vectors.Manifest.CreatedAt, rebuilt.Manifest.CreatedAt);
        Assert.Equal(vectors.Manifest.VectorsSha256, rebuilt.Manifest.VectorsSha256); // the same model gives the same vectors
    }

    [Fact]
    public void Hybrid_search_is_measured_against_keyword_search_and_keeps_the_no_good_match_rule()
    {
        var index = fixture.Handbook.Index;
        var keyword = RetrievalEvaluation.Evaluate(index, HandbookCorpus.Questions);
        var hybrid = RetrievalEvaluation.Evaluate((q, k) => HybridSearch.Search(index, fixture.Vectors, fixture.Encoder, q, k), HandbookCorpus.Questions);
        output.WriteLine($"BM25:   {keyword}");
        output.WriteLine($"hybrid: {hybrid} (stories260K as the encoder)");
        foreach (var (k, h) in keyword.Questions.Zip(hybrid.Questions).Where(p => p.First.Rank != p.Second.Rank))
            output.WriteLine($"  {k.Question.Question}: BM25 rank {k.Rank?.ToString() ?? "-"}, hybrid rank {h.Rank?.ToString() ?? "-"}");
        foreach (var ks in new[] { 1, 3, 5 }) Assert.InRange(hybrid.RecallAt(ks), 0, 1);

        var results = HybridSearch.Search(index, fixture.Vectors, fixture.Encoder, "How do we handle moonlighting?", 5);
        Assert.Equal(5, results.Hits.Count);
        Assert.Equal([1, 2, 3, 4, 5], results.Hits.Select(h => h.Rank));
        Assert.True(results.Hits.Zip(results.Hits.Skip(1)).All(p => p.First.Score >= p.Second.Score));
        Assert.Equal(results.Hits.Count, results.Hits.Select(h => h.Passage.Id).Distinct().Count());
        // The passage both rankings put high is among the first: BM25 alone ranks it first.
        Assert.Contains(results.Hits.Take(3), h => h.Passage.Heading.Contains("Second jobs"));
        Assert.All(results.Hits, h => Assert.InRange(h.QueryCoverage, 0, 1));

        foreach (var question in HandbookCorpus.UnrelatedQuestions)
        {
            var unrelated = HybridSearch.Search(index, fixture.Vectors, fixture.Encoder, question);
            Assert.True(unrelated.NoGoodMatch, question);
            Assert.Equal(SearchResults.NoGoodMatchMessage, unrelated.Message);
        }
    }
}
