using System.Text;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Tokenization;

public class BpeTrainerTests
{
    [Theory]
    [MemberData(nameof(TokenizerTestData.TrickyTexts), MemberType = typeof(TokenizerTestData))]
    public void DecodeOfEncodeGivesTheTextBack(string text)
    {
        var tokenizer = TokenizerTestData.Trained;
        var ids = tokenizer.Encode(text);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
    }

    [Fact]
    public void TrainedTokenizerHasTheRequestedSizeSpecialTokensAndCompresses()
    {
        var tokenizer = TokenizerTestData.Trained;
        Assert.Equal(1024, tokenizer.VocabSize);
        Assert.Equal(0, tokenizer.BosId);
        Assert.Equal(1, tokenizer.EosId);
        Assert.Equal(2, tokenizer.PadId);
        Assert.Equal(BpeTrainer.BosToken, tokenizer.IdToToken(0));
        Assert.Equal("Ġ", tokenizer.IdToToken(3 + ' '));
        var ids = tokenizer.Encode(TokenizerTestData.Corpus);
        // Learned merges must do much better than one token per byte on the text they were trained on.
        Assert.True(TokenizerTestData.Corpus.Length / (double)ids.Length > 2.5, $"{TokenizerTestData.Corpus.Length / (double)ids.Length:F2} characters per token");
        Assert.Equal(TokenizerTestData.Corpus, tokenizer.Decode(ids));
        Assert.True(tokenizer.Encode(" the").Length == 1, "a very frequent word is one token");
    }

    [Fact]
    public void AddSpecialTokensPrependsBeginningOfTextOnly()
    {
        var tokenizer = TokenizerTestData.Trained;
        var plain = tokenizer.Encode("Hello world");
        var withBos = tokenizer.Encode("Hello world", addSpecialTokens: true);
        Assert.Equal([0, .. plain], withBos);
        Assert.Equal([0], tokenizer.Encode("", addSpecialTokens: true));
        Assert.Equal("Hello world", tokenizer.Decode(withBos));
        Assert.Equal(BpeTrainer.BosToken + "Hello world", tokenizer.Decode(withBos, skipSpecialTokens: false));
    }

    [Fact]
    public void SpecialTokensComeOnlyFromTheirExactSpellingAndCanBeTurnedOff()
    {
        var tokenizer = TokenizerTestData.Trained;
        // Near misses are plain text.
        foreach (var text in new[] { "<|end_of_text", "<|end_of_text |>", "< |pad|>", "<|PAD|>", "<|begin_of_text", "begin_of_text" })
            Assert.DoesNotContain(tokenizer.Encode(text), id => id < 3);
        // The exact spelling is the special token, as Hugging Face does by default...
        Assert.Equal([tokenizer.TokenToId("a")!.Value, 1], tokenizer.Encode("a<|end_of_text|>"));
        // ...unless the caller encodes untrusted text as plain text (training data).
        var plain = tokenizer.Encode("a<|end_of_text|>", addSpecialTokens: false, splitSpecialTokens: false);
        Assert.DoesNotContain(plain, id => id < 3);
        Assert.Equal("a<|end_of_text|>", tokenizer.Decode(plain));
    }

    [Fact]
    public void TrainingIsDeterministic()
    {
        var text = TokenizerTestData.Corpus[..60_000];
        var first = new BpeTrainer(600).Train(text).ToJson();
        Assert.NotEqual(first, new BpeTrainer(601).Train(text).ToJson());
        Assert.Equal(first, new BpeTrainer(600).Train(text).ToJson());
        // Saving, loading and saving again changes nothing.
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json");
        new BpeTrainer(600).Train(text).Save(path);
        Assert.Equal(first, File.ReadAllText(path, Encoding.UTF8));
        var reloaded = TokenizerFile.Load(path);
        Assert.Equal(first, reloaded.ToJson());
        Assert.Equal(new BpeTrainer(600).Train(text).Encode(text), reloaded.Encode(text));
        Assert.Equal(["tokenizer.json"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void LowercaseTokenizerReadsEveryCaseAlikeAndItsFileSaysSo()
    {
        var text = TokenizerTestData.Corpus[..60_000];
        var tokenizer = new BpeTrainer(600, lowercase: true).Train(text);
        Assert.Equal(tokenizer.Encode("where is my refund?"), tokenizer.Encode("WHERE is My Refund?"));
        Assert.Equal("where is my refund?", tokenizer.Decode(tokenizer.Encode("WHERE is My Refund?")));
        // Merges are learned from the lower-cased text: no learned token holds a capital, none is wasted on one.
        var learned = Enumerable.Range(BpeTrainer.MinimumVocabSize, tokenizer.VocabSize - BpeTrainer.MinimumVocabSize).Select(id => tokenizer.Decode([id])).ToList();
        Assert.Contains(learned, t => t.Trim().Length > 3);
        Assert.DoesNotContain(learned, t => t.Any(char.IsUpper));

        // The normalizer is in tokenizer.json, so any reader of the file (Hugging Face's tokenizers too) lower-cases the same.
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json");
        tokenizer.Save(path);
        Assert.Equal("Lowercase", (string?)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!["normalizer"]!["type"]);
        Assert.Equal(tokenizer.Encode("Cancel My ORDER"), TokenizerFile.Load(path).Encode("cancel my order"));

        // The default keeps case: a text model has to write capitals.
        var cased = new BpeTrainer(600).Train(text);
        Assert.NotEqual(cased.Encode("WHERE is My Refund?"), cased.Encode("where is my refund?"));
        Assert.Equal("WHERE is My Refund?", cased.Decode(cased.Encode("WHERE is My Refund?")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    [InlineData(258)]
    public void VocabularySmallerThanBytesPlusSpecialsIsAClearError(int size)
    {
        var e = Assert.Throws<EngineException>(() => new BpeTrainer(size));
        Assert.Contains("at least 259", e.Message);
    }

    [Fact]
    public void SmallestVocabularyIsBytesOnlyAndStillRoundTrips()
    {
        var tokenizer = new BpeTrainer(BpeTrainer.MinimumVocabSize).Train("some text to train on");
        Assert.Equal(259, tokenizer.VocabSize);
        Assert.Equal(0, tokenizer.MergeCount);
        var text = "any text 😀 still works";
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), tokenizer.Encode(text).Length);
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void TrainingStopsWhenNoPairIsFrequentEnough()
    {
        var tokenizer = new BpeTrainer(4096).Train("abc abc abc xyz");
        Assert.InRange(tokenizer.VocabSize, 260, 270);
        Assert.Equal("abc abc abc xyz", tokenizer.Decode(tokenizer.Encode("abc abc abc xyz")));
    }

    [Fact]
    public void TrainingHonoursCancellation()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => new BpeTrainer(1000).Train(TokenizerTestData.Corpus, cts.Token));
    }

    [Fact]
    public void PreTokenizerFollowsTheGpt2Pattern()
    {
        Assert.Equal(["Hello", ",", " world", "'s", " 123", "!!", " ", " x"], Gpt2PreTokenizer.Split("Hello, world's 123!!  x"));
        Assert.Equal(["a", "  ", " b", "\n", "c", " \t\n"], Gpt2PreTokenizer.Split("a   b\nc \t\n"));
        // A supplementary-plane letter is one letter, not two surrogates.
        Assert.Equal(["𠀀𠀁", " x", "😀"], Gpt2PreTokenizer.Split("𠀀𠀁 x😀"));
    }

    [Fact]
    public void TokenizerConfigNamesTheSpecialTokens()
    {
        using var dir = new TempFolder();
        TokenizerTestData.Trained.SaveTokenizerConfig(dir.File("tokenizer_config.json"), 256);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("tokenizer_config.json")))!;
        Assert.Equal(BpeTrainer.BosToken, config["bos_token"]!.GetValue<string>());
        Assert.Equal(BpeTrainer.EosToken, config["eos_token"]!.GetValue<string>());
        Assert.Equal(BpeTrainer.PadToken, config["pad_token"]!.GetValue<string>());
        Assert.True(config["add_bos_token"]!.GetValue<bool>());
        Assert.Equal(256, config["model_max_length"]!.GetValue<int>());
    }

    [Fact]
    public void EncodingFromManyThreadsAtOnceGivesTheSameIds()
    {
        var path = TokenizerTestData.TrainedPath;
        var tokenizer = TokenizerFile.Load(path);
        var texts = Enumerable.Range(0, 64).Select(i => TokenizerTestData.Corpus.Substring(i * 3000, 3000)).ToArray();
        var expected = texts.Select(t => TokenizerFile.Load(path).Encode(t)).ToArray();
        var actual = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => actual[i] = tokenizer.Encode(texts[i]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }
}
