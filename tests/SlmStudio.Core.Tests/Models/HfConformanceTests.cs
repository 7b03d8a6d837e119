using System.Text.Json;
using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Models;

public class HfConformanceTests
{
    private sealed record Expected(int[] input_ids, double[][] logits, int[] greedy_next_16);

    private static Expected LoadExpected() =>
        JsonSerializer.Deserialize<Expected>(File.ReadAllText(Path.Combine(TestPaths.TinyLlama, "expected.json")))!;

    [Fact]
    public void TinyLlamaFixtureReproducesReferenceLogits()
    {
        var expected = LoadExpected();
        var (model, config) = ModelFolder.Load(TestPaths.TinyLlama);
        Assert.True(config.TieWordEmbeddings);
        Assert.Equal(2, config.NumKvHeads);
        using var _ = no_grad();
        using var ids = tensor(expected.input_ids.Select(i => (long)i).ToArray(), [1, expected.input_ids.Length]);
        using var logits = model.forward(ids);
        var actual = logits.squeeze(0).data<float>().ToArray();
        var v = config.VocabSize;
        double maxDiff = 0;
        for (int t = 0; t < expected.logits.Length; t++)
            for (int j = 0; j < v; j++)
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * v + j] - expected.logits[t][j]));
        Assert.True(maxDiff < 1e-4, $"max |logit difference| = {maxDiff}");
    }

    [Fact]
    public void TinyLlamaFixtureGreedyContinuationMatchesExactly()
    {
        var expected = LoadExpected();
        var (model, _) = ModelFolder.Load(TestPaths.TinyLlama);
        var generated = Generation.Greedy(model, expected.input_ids, expected.greedy_next_16.Length);
        Assert.Equal(expected.greedy_next_16, generated);
    }

    [Fact]
    public void KvCacheDecodingMatchesFullForward()
    {
        var expected = LoadExpected();
        var (model, _) = ModelFolder.Load(TestPaths.TinyLlama);
        using var _ = no_grad();
        var ids = expected.input_ids.Select(i => (long)i).ToArray();
        using var full = model.forward(tensor(ids, [1, ids.Length]));
        using var cache = new KvCache(model.Config.NumLayers);
        // Prefill three tokens, then a chunk of two (explicit mask path), then one at a time.
        var parts = new List<Tensor> { model.Forward(tensor(ids[..3], [1, 3]), cache), model.Forward(tensor(ids[3..5], [1, 2]), cache) };
        for (int i = 5; i < ids.Length; i++) parts.Add(model.Forward(tensor(new[] { ids[i] }, [1, 1]), cache));
        using var stepwise = cat(parts, 1);
        var diff = (full - stepwise).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"max difference {diff}");
    }

    [Fact]
    public void SaveAndLoadRoundTripIsBitIdentical()
    {
        var dir = TestPaths.NewTempDir();
        var (model, _) = ModelFolder.Load(TestPaths.TinyLlama);
        ModelFolder.Save(model, null, dir);
        var original = SafetensorsFile.Read(Path.Combine(TestPaths.TinyLlama, "model.safetensors"));
        var saved = SafetensorsFile.Read(Path.Combine(dir, "model.safetensors"));
        Assert.Equal(original.Keys.Order(), saved.Keys.Order());
        foreach (var (name, t) in original) Assert.Equal(t.Data, saved[name].Data);
        var (reloaded, config) = ModelFolder.Load(dir);
        Assert.Equal(model.Config.ParameterCount, config.ParameterCount);
        Assert.Equal(model.Config.ParameterCount, reloaded.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        var dir = TestPaths.NewTempDir();
        foreach (var f in Directory.GetFiles(TestPaths.TinyLlama)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(dir, "config.json"), File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"llama\"", "\"gpt_neox\""));
        var e = Assert.Throws<UnsupportedModelException>(() => ModelFolder.Load(dir));
        Assert.Contains("gpt_neox", e.Message);
    }

    [Fact]
    public void WrongShapeAndTruncatedWeightsGetClearErrors()
    {
        var dir = TestPaths.NewTempDir();
        foreach (var f in Directory.GetFiles(TestPaths.TinyLlama)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(dir, "config.json"), File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"intermediate_size\": 132", "\"intermediate_size\": 128"));
        var shape = Assert.Throws<UnsupportedModelException>(() => ModelFolder.Load(dir));
        Assert.Contains("gate_proj", shape.Message);

        File.Copy(Path.Combine(TestPaths.TinyLlama, "config.json"), Path.Combine(dir, "config.json"), overwrite: true);
        var weights = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var truncated = Assert.Throws<InvalidModelFileException>(() => ModelFolder.Load(dir));
        Assert.Contains("damaged or truncated", truncated.Message);
    }
}
