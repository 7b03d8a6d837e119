using System.Text.Json;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tests.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Export;

/// <summary>The exported graph of every supported family against its fixture's reference, without and with the KV cache.</summary>
public sealed class ArchitectureOnnxTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-onnx-arch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Fixtures => ArchitectureConformanceTests.Fixtures;

    private OnnxDecoder Export(string folder, string name)
    {
        var config = LlamaConfig.Load(Path.Combine(folder, "config.json"));
        var path = Path.Combine(_dir, name + ".onnx");
        OnnxModelWriter.Write(LlamaOnnxGraph.Build(config, ModelFolder.ReadWeights(folder)), path, OnnxModelWriter.DefaultExternalDataThreshold);
        return OnnxDecoder.Load(path, config);
    }

    private static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();
    private static long[] Range(int start, int count) => Enumerable.Range(start, count).Select(p => (long)p).ToArray();

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int j = 1; j < row.Length; j++) if (row[j] > row[best]) best = j;
        return best;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ExportedGraphMatchesReferenceWithAndWithoutCache(string fixture)
    {
        var expected = ArchitectureConformanceTests.LoadExpected(fixture);
        using var decoder = Export(ArchitectureConformanceTests.FixtureDir(fixture), fixture);
        var ids = expected.input_ids.Select(i => (long)i).ToArray();

        // Without a cache: the whole prompt in one call.
        double prefillDiff = 0;
        using (var empty = decoder.EmptyCache(1))
        using (var prefill = decoder.Run(ids, Ones(ids.Length), Range(0, ids.Length), 1, ids.Length, empty))
            for (int t = 0; t < ids.Length; t++)
            {
                var row = prefill.LogitsAt(0, t);
                for (int j = 0; j < row.Length; j++) prefillDiff = Math.Max(prefillDiff, Math.Abs(row[j] - expected.logits[t][j]));
            }

        // With the cache: 3 tokens, then one at a time (each step's logits against the reference), then greedy decoding.
        double cachedDiff = 0;
        var cache = decoder.EmptyCache(1);
        int length = 0;
        var generated = new List<int>();
        var chunks = new List<long[]> { ids[..3] };
        chunks.AddRange(ids[3..].Select(x => new[] { x }));
        for (int c = 0; c < chunks.Count || generated.Count < expected.greedy_next_16.Length; c++)
        {
            var chunk = c < chunks.Count ? chunks[c] : [generated[^1]];
            using var step = decoder.Run(chunk, Ones(length + chunk.Length), Range(length, chunk.Length), 1, chunk.Length, cache);
            if (c < chunks.Count)
                for (int t = 0; t < chunk.Length; t++)
                {
                    var row = step.LogitsAt(0, t);
                    for (int j = 0; j < row.Length; j++) cachedDiff = Math.Max(cachedDiff, Math.Abs(row[j] - expected.logits[length + t][j]));
                }
            if (c >= chunks.Count - 1) generated.Add(ArgMax(step.LogitsAt(0, chunk.Length - 1)));
            length += chunk.Length;
            cache.Dispose();
            cache = step.TakeCache();
        }
        cache.Dispose();
        output.WriteLine($"{fixture}: ONNX max |logit diff| without cache {prefillDiff:E2}, with cache {cachedDiff:E2}, greedy {(generated.SequenceEqual(expected.greedy_next_16) ? "exact" : "DIFFERENT")}");
        Assert.True(prefillDiff < 1e-4, $"{fixture}: prefill max abs diff {prefillDiff}");
        Assert.True(cachedDiff < 1e-4, $"{fixture}: cached max abs diff {cachedDiff}");
        Assert.Equal(expected.greedy_next_16, generated);
    }

    [Theory]
    [InlineData("tiny-mistral-hf")]
    [InlineData("tiny-phi2-hf")]
    public void LongSequencesThroughTheCacheMatchTorchSharp(string fixture)
    {
        // 24 positions, far past Mistral's window of 4: the graph's mask must keep the window while the cache grows.
        var folder = ArchitectureConformanceTests.FixtureDir(fixture);
        var (model, config) = ModelFolder.Load(folder);
        using var decoder = Export(folder, fixture);
        var ids = Enumerable.Range(0, 24).Select(i => (long)((i * 37 + 11) % config.VocabSize)).ToArray();
        var (prefill, decode) = OnnxParity.Compare(model, decoder, ids, 1, 5, ids.Length - 5);
        output.WriteLine($"{fixture}: ONNX vs TorchSharp over 24 positions: prefill {prefill:E2}, decode {decode:E2}");
        Assert.True(prefill < 1e-4 && decode < 1e-4, $"prefill {prefill}, decode {decode}");

        using var _ = no_grad();
        using var full = model.forward(tensor(ids, [1, ids.Length]));
        using var empty = decoder.EmptyCache(1);
        using var onnxFull = decoder.Run(ids, Ones(ids.Length), Range(0, ids.Length), 1, ids.Length, empty);
        var torchLogits = full.data<float>().ToArray();
        var onnxLogits = onnxFull.Logits.ToArray();
        var fullDiff = torchLogits.Zip(onnxLogits).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(fullDiff < 1e-4, $"full-sequence max abs diff {fullDiff}");
    }

    [Fact]
    public void Llama3RopeScalingIsTheSameInTheGraphAsInTorchSharp()
    {
        // original_max_position_embeddings 8 with a 128-position context puts the fixture's frequencies in all three
        // bands (kept, interpolated, divided by the factor), so every branch of the formula is exercised end to end.
        var folder = ArchitectureConformanceTests.CopyFixture("tiny-llama-hf");
        ArchitectureConformanceTests.EditConfig(folder, "\"mlp_bias\": false",
            "\"mlp_bias\": false, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8}");
        var (model, config) = ModelFolder.Load(folder);
        Assert.NotNull(config.RopeScaling);
        using var decoder = Export(folder, "llama3");
        var ids = Enumerable.Range(0, 40).Select(i => (long)((i * 13 + 5) % config.VocabSize)).ToArray();
        var (prefill, decode) = OnnxParity.Compare(model, decoder, ids, 1, 20, 20);
        Assert.True(prefill < 1e-4 && decode < 1e-4, $"prefill {prefill}, decode {decode}");
        // And the scaling changes the model (positions past the first few see different rotations).
        var (plain, _) = ModelFolder.Load(ArchitectureConformanceTests.FixtureDir("tiny-llama-hf"));
        using var _ = no_grad();
        using var scaled = model.forward(tensor(ids, [1, ids.Length]));
        using var unscaled = plain.forward(tensor(ids, [1, ids.Length]));
        Assert.True((scaled - unscaled).abs().max().item<float>() > 1e-3);
    }

    [Theory]
    [InlineData("tiny-llama-hf", "llama")]
    [InlineData("tiny-qwen2-hf", "qwen2")]
    [InlineData("tiny-mistral-hf", "mistral")]
    [InlineData("tiny-phi3-hf", "phi3")]
    [InlineData("tiny-phi2-hf", "phi")]
    public void GenaiConfigNamesTheFamily(string fixture, string genaiType)
    {
        var config = LlamaConfig.Load(Path.Combine(ArchitectureConformanceTests.FixtureDir(fixture), "config.json"));
        using var doc = JsonDocument.Parse(GenaiConfig.ToJson(config));
        Assert.Equal(genaiType, doc.RootElement.GetProperty("model").GetProperty("type").GetString());
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ExporterTurnsEachFamilysFolderIntoAnArtifactThatDecodesTheReference(string fixture)
    {
        // The whole export (graph, parity check against TorchSharp, genai_config, manifest), then the artifact as the
        // playground and `slm generate` open it: greedy ids from the exported model must be the reference's.
        var target = Path.Combine(_dir, "artifact-" + fixture);
        var result = ModelExporter.Export(ArchitectureConformanceTests.FixtureDir(fixture), target);
        Assert.True(result.Passed, $"parity prefill {result.Parity.PrefillMaxAbsDiff}, decode {result.Parity.DecodeMaxAbsDiff}");
        var expected = ArchitectureConformanceTests.LoadExpected(fixture);
        using var artifact = OnnxArtifact.Open(target);
        var cache = artifact.Decoder.EmptyCache(1);
        var current = expected.input_ids.Select(i => (long)i).ToArray();
        int length = 0;
        var generated = new List<int>();
        while (generated.Count < expected.greedy_next_16.Length)
        {
            using var step = artifact.Run(current, Ones(length + current.Length), Range(length, current.Length), 1, current.Length, cache);
            generated.Add(ArgMax(step.LogitsAt(0, current.Length - 1)));
            length += current.Length;
            cache.Dispose();
            cache = step.TakeCache();
            current = [generated[^1]];
        }
        cache.Dispose();
        Assert.Equal(expected.greedy_next_16, generated);
    }
}
