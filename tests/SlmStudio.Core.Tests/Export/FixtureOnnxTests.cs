using System.Text.Json;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Tests.Export;

/// <summary>The exported graph against the independent float64 reference of the Hugging Face forward pass (GQA, tied embeddings).</summary>
public sealed class FixtureOnnxTests : IDisposable
{
    public static string FixtureDir => OnnxTestModels.FixtureDir;
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-onnx-fixture-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (long[] Ids, float[][] Logits, int[] Greedy) Expected()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDir, "expected.json")));
        var root = doc.RootElement;
        return (root.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetSingle()).ToArray()).ToArray(),
            root.GetProperty("greedy_next_16").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    private OnnxDecoder BuildDecoder(long externalThreshold = OnnxModelWriter.DefaultExternalDataThreshold)
    {
        var config = LlamaConfig.Load(Path.Combine(FixtureDir, "config.json"));
        var weights = SafetensorsFile.Read(Path.Combine(FixtureDir, "model.safetensors"));
        var path = Path.Combine(_dir, "model.onnx");
        OnnxModelWriter.Write(LlamaOnnxGraph.Build(config, weights), path, externalThreshold);
        return OnnxDecoder.Load(path, config);
    }

    private static long[] Positions(int batch, int start, int count) =>
        Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(start, count).Select(p => (long)p)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PrefillLogitsMatchReference(bool externalData)
    {
        var (ids, logits, _) = Expected();
        using var decoder = BuildDecoder(externalData ? 0 : OnnxModelWriter.DefaultExternalDataThreshold);
        Assert.Equal(externalData, File.Exists(Path.Combine(_dir, "model.onnx.data")));
        using var past = decoder.EmptyCache(1);
        using var output = decoder.Run(ids, Enumerable.Repeat(1L, ids.Length).ToArray(), Positions(1, 0, ids.Length), 1, ids.Length, past);
        double maxDiff = 0;
        for (int t = 0; t < ids.Length; t++)
        {
            var row = output.LogitsAt(0, t);
            for (int j = 0; j < row.Length; j++) maxDiff = Math.Max(maxDiff, Math.Abs(row[j] - logits[t][j]));
        }
        Assert.True(maxDiff < 1e-4, $"max abs diff {maxDiff}");
    }

    [Fact]
    public void GreedyWithKvCacheMatchesReference()
    {
        var (ids, _, greedy) = Expected();
        using var decoder = BuildDecoder();
        var cache = decoder.EmptyCache(1);
        var generated = new List<int>();
        var current = ids;
        int length = 0;
        for (int step = 0; step < greedy.Length; step++)
        {
            var mask = Enumerable.Repeat(1L, length + current.Length).ToArray();
            using var output = decoder.Run(current, mask, Positions(1, length, current.Length), 1, current.Length, cache);
            var last = output.LogitsAt(0, current.Length - 1);
            int best = 0;
            for (int j = 1; j < last.Length; j++) if (last[j] > last[best]) best = j;
            generated.Add(best);
            length += current.Length;
            cache.Dispose();
            cache = output.TakeCache();
            current = [best];
        }
        cache.Dispose();
        Assert.Equal(greedy, generated);
    }

    [Fact]
    public void StepwiseDecodingEqualsPrefillAndLeftPaddedBatchEqualsSingle()
    {
        var (ids, logits, _) = Expected();
        using var decoder = BuildDecoder();
        // Prompt of 3 tokens, then the remaining 5 one at a time through the cache: each step's logits equal the prefill's.
        var cache = decoder.EmptyCache(1);
        double maxDiff = 0;
        int length = 0;
        foreach (var chunk in new[] { ids[..3] }.Concat(ids[3..].Select(x => new[] { x })))
        {
            using var output = decoder.Run(chunk, Enumerable.Repeat(1L, length + chunk.Length).ToArray(), Positions(1, length, chunk.Length), 1, chunk.Length, cache);
            for (int t = 0; t < chunk.Length; t++)
            {
                var row = output.LogitsAt(0, t);
                for (int j = 0; j < row.Length; j++) maxDiff = Math.Max(maxDiff, Math.Abs(row[j] - logits[length + t][j]));
            }
            length += chunk.Length;
            cache.Dispose();
            cache = output.TakeCache();
        }
        cache.Dispose();
        Assert.True(maxDiff < 1e-4, $"stepwise max abs diff {maxDiff}");

        // Batch of two: the full prompt and a 5-token prompt left-padded with 3 pads (mask 0, positions start at 0 after them).
        const int pad = 3;
        var batchIds = ids.Concat(Enumerable.Repeat(0L, pad)).Concat(ids[..5]).ToArray();
        var mask = Enumerable.Repeat(1L, 8).Concat(Enumerable.Repeat(0L, pad)).Concat(Enumerable.Repeat(1L, 5)).ToArray();
        var positions = Positions(1, 0, 8).Concat(Enumerable.Repeat(0L, pad)).Concat(Positions(1, 0, 5)).ToArray();
        using var empty = decoder.EmptyCache(2);
        using var batchOut = decoder.Run(batchIds, mask, positions, 2, 8, empty);
        double batchDiff = 0;
        for (int t = 0; t < 8; t++)
            for (int j = 0; j < logits[t].Length; j++) batchDiff = Math.Max(batchDiff, Math.Abs(batchOut.LogitsAt(0, t)[j] - logits[t][j]));
        for (int t = 0; t < 5; t++)
            for (int j = 0; j < logits[t].Length; j++) batchDiff = Math.Max(batchDiff, Math.Abs(batchOut.LogitsAt(1, pad + t)[j] - logits[t][j]));
        Assert.True(batchDiff < 1e-4, $"batch max abs diff {batchDiff}");
        Assert.All(batchOut.Logits.ToArray(), v => Assert.True(float.IsFinite(v)));
    }
}
