using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

public class TextCorpusTests
{
    [Fact]
    public void LongSingleFileHoldsOutBlocksFromEveryPartAtParagraphBreaks()
    {
        var dir = TestPaths.NewTempDir();
        // A file that changes topic halfway, as a handbook followed by a price list would.
        var paragraphs = Enumerable.Range(0, 400).Select(i => i < 200 ? $"Policy paragraph {i}: staff travel is booked through the office." : $"Product paragraph {i}: the router ships with a two-year warranty.");
        var text = string.Join("\n\n", paragraphs);
        File.WriteAllText(Path.Combine(dir, "all.txt"), text);

        var corpus = TextCorpus.Load(Path.Combine(dir, "all.txt"), 0.1);

        Assert.Contains(corpus.ValidationDocuments, d => d.Contains("Policy paragraph"));
        Assert.Contains(corpus.ValidationDocuments, d => d.Contains("Product paragraph"));
        Assert.InRange(corpus.ValidationCharacters / (double)text.Length, 0.07, 0.13);
        Assert.Equal(text.Length, corpus.TrainCharacters + corpus.ValidationCharacters);
        Assert.All(corpus.ValidationDocuments, d => Assert.StartsWith("P", d));
        var all = corpus.TrainDocuments.Concat(corpus.ValidationDocuments).SelectMany(d => d.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)).Select(p => p.Trim()).Order();
        Assert.Equal(paragraphs.Order(), all);
    }

    [Fact]
    public void ShortDocumentsGiveUpTheirEnd()
    {
        var dir = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(dir, "a.txt"), string.Join("\n\n", Enumerable.Range(0, 30).Select(i => $"Line {i} of the first file.")));
        File.WriteAllText(Path.Combine(dir, "b.md"), string.Join("\n\n", Enumerable.Range(0, 30).Select(i => $"Line {i} of the second file.")));
        var corpus = TextCorpus.Load(dir, 0.1);
        Assert.Equal(2, corpus.ValidationDocuments.Count);
        Assert.All(corpus.ValidationDocuments, d => Assert.Contains("Line 29", d));
        Assert.Equal(2, corpus.SourceFiles.Count);
    }
}
