using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tests.Export;

namespace SlmStudio.Core.Tests.Inference;

/// <summary>The ONNX Runtime generator: greedy equals TorchSharp, seeded sampling is reproducible, stop sequences,
/// batches, empty prompts, probabilities.</summary>
public sealed class GeneratorTests(OnnxTestModels.TinyArtifact tiny) : IClassFixture<OnnxTestModels.TinyArtifact>
{
    private static async Task<List<GeneratedToken>> Collect(TextGenerator generator, string prompt, GenerationSettings settings)
    {
        var tokens = new List<GeneratedToken>();
        await foreach (var t in generator.GenerateAsync(prompt, settings, CancellationToken.None)) tokens.Add(t);
        return tokens;
    }

    [Fact]
    public async Task GreedyOnnxEqualsGreedyTorchSharp()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        var (model, _) = ModelFolder.Load(tiny.ModelDir);
        using (model)
        {
            foreach (var prompt in new[] { "the cat and the win", "a", "" })
            {
                var ids = generator.Encode(prompt);
                var expected = Generation.Greedy(model, ids, 20, stopId: artifact.EndOfTextId).TakeWhile(id => id != artifact.EndOfTextId).ToArray();
                var tokens = await Collect(generator, prompt, GenerationSettings.Greedy(20));
                Assert.Equal(expected, tokens.Select(t => t.Id).ToArray());
                Assert.All(tokens, t => Assert.InRange(t.Probability, 1e-9f, 1f));
                // The streamed pieces add up to the decoded continuation.
                Assert.Equal(artifact.Tokenizer.Decode([.. ids.TakeLast(4), .. expected])[artifact.Tokenizer.Decode(ids.TakeLast(4).ToArray()).Length..], string.Concat(tokens.Select(t => t.Text)));
            }
        }
    }

    [Fact]
    public async Task EmptyPromptStartsFromBeginningOfText()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        Assert.Equal([artifact.BeginningOfTextId], generator.Encode(""));
        var fromEmpty = await Collect(generator, "", GenerationSettings.Greedy(8));
        Assert.Equal(OnnxParity.OnnxGreedy(artifact.Decoder, [artifact.BeginningOfTextId], 8).TakeWhile(i => i != artifact.EndOfTextId), fromEmpty.Select(t => t.Id));
    }

    [Fact]
    public async Task SeededSamplingIsReproducible()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        var settings = new GenerationSettings(MaxNewTokens: 30, Temperature: 1.5, TopK: 50, TopP: 0.98, RepetitionPenalty: 1.1, Seed: 1234);
        var a = (await Collect(generator, "the cat", settings)).Select(t => t.Id).ToList();
        var b = (await Collect(generator, "the cat", settings)).Select(t => t.Id).ToList();
        var c = (await Collect(generator, "the cat", settings with { Seed = 99 })).Select(t => t.Id).ToList();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        // Random weights with temperature 1.5: sampling must not collapse onto the greedy path.
        var greedy = (await Collect(generator, "the cat", GenerationSettings.Greedy(30))).Select(t => t.Id).ToList();
        Assert.NotEqual(greedy, a);
    }

    [Fact]
    public async Task TopKOneAndTinyTopPAreGreedy()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        var greedy = (await Collect(generator, "the", GenerationSettings.Greedy(15))).Select(t => t.Id).ToList();
        var topK1 = (await Collect(generator, "the", new GenerationSettings(15, Temperature: 2, TopK: 1, TopP: 1, RepetitionPenalty: 1, Seed: 5))).Select(t => t.Id).ToList();
        var topP = (await Collect(generator, "the", new GenerationSettings(15, Temperature: 1, TopK: 0, TopP: 1e-6, RepetitionPenalty: 1, Seed: 5))).Select(t => t.Id).ToList();
        Assert.Equal(greedy, topK1);
        Assert.Equal(greedy, topP);
    }

    [Fact]
    public void RepetitionPenaltyFollowsHuggingFaceRule()
    {
        float[] logits = [2f, -2f, 1f];
        var (id, probability) = Sampler.Choose(logits, new HashSet<int> { 0, 1 }, new GenerationSettings(Temperature: 0, RepetitionPenalty: 2.5), new Random(1));
        Assert.Equal([0.8f, -5f, 1f], logits);
        Assert.Equal(2, id);
        var expected = Math.Exp(1) / (Math.Exp(2) + Math.Exp(-2) + Math.Exp(1));
        Assert.Equal(expected, probability, 5);
    }

    [Fact]
    public async Task StopSequenceEndsGenerationAndIsNotEmitted()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        var full = string.Concat((await Collect(generator, "the cat", GenerationSettings.Greedy(30))).Select(t => t.Text));
        Assert.True(full.Length > 6, $"continuation too short to test: '{full}'");
        var stop = full.Substring(full.Length / 2, 3);
        var cut = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        var tokens = await Collect(generator, "the cat", GenerationSettings.Greedy(30) with { StopSequences = [stop] });
        Assert.Equal(cut, string.Concat(tokens.Select(t => t.Text)));
        var batch = await generator.GenerateBatchAsync(["the cat"], GenerationSettings.Greedy(30) with { StopSequences = [stop] });
        Assert.Equal("stop", batch[0].FinishReason);
        Assert.Equal(cut, batch[0].Text);
    }

    [Fact]
    public async Task BatchEqualsSinglePromptsAndHonoursMaxTokens()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        string[] prompts = ["the cat and the win", "a", "the dog"];
        var settings = new GenerationSettings(MaxNewTokens: 12, Temperature: 0.9, TopK: 20, TopP: 0.9, RepetitionPenalty: 1.2, Seed: 7);
        var batch = await generator.GenerateBatchAsync(prompts, settings);
        Assert.Equal(3, batch.Count);
        for (int i = 0; i < prompts.Length; i++)
        {
            var single = await Collect(generator, prompts[i], settings);
            Assert.Equal(single.Select(t => t.Id), batch[i].Tokens.Select(t => t.Id));
            Assert.True(batch[i].Tokens.Count <= 12);
            Assert.Equal(string.Concat(single.Select(t => t.Text)), batch[i].Text);
        }
        Assert.Equal(5, (await Collect(generator, "the", GenerationSettings.Greedy(5))).Count(t => t.Id != artifact.EndOfTextId));
    }

    [Fact]
    public async Task ConcurrentRequestsShareOneSession()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        var expected = (await Collect(generator, "the cat", GenerationSettings.Greedy(16))).Select(t => t.Id).ToList();
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => Collect(generator, "the cat", GenerationSettings.Greedy(16)))));
        Assert.All(results, r => Assert.Equal(expected, r.Select(t => t.Id)));
    }

    [Fact]
    public async Task OverlongPromptKeepsItsEndAndStopsAtTheContextLength()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        var context = artifact.Config.MaxPositions;
        var prompt = string.Join(" ", Enumerable.Repeat("the cat and the win", 40));
        Assert.True(generator.Encode(prompt).Length > context);
        var result = (await generator.GenerateBatchAsync([prompt, "a"], GenerationSettings.Greedy(500)))[0];
        Assert.Equal("context", result.FinishReason);
        Assert.Single(result.Tokens); // context - 1 prompt tokens kept, one new token fills the context
        var shortResult = (await generator.GenerateBatchAsync(["a"], GenerationSettings.Greedy(500)))[0];
        Assert.True(shortResult.FinishReason is "context" or "eos");
        Assert.True(generator.Encode("a").Length + shortResult.Tokens.Count <= context);
    }

    [Fact]
    public void InvalidSettingsAreRefused()
    {
        Assert.Throws<EngineException>(() => new GenerationSettings(TopP: 0).Validate());
        Assert.Throws<EngineException>(() => new GenerationSettings(MaxNewTokens: -1).Validate());
        Assert.Throws<EngineException>(() => new GenerationSettings(StopSequences: [""]).Validate());
    }
}
