using System.Text.Json;
using System.Text.Json.Nodes;

namespace SlmStudio.Cli.Tests;

/// <summary>`slm train --lora` and `slm bench lora` as a user runs them.</summary>
public sealed class LoraCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-cli-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Slm(params string[] args) => GenerateJsonTests.Slm(args);

    private string Corpus()
    {
        var path = Path.Combine(_dir, "corpus.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Range(0, 120).Select(i => $"The cat and the dog play in the garden on day {i}.\n")));
        return path;
    }

    [Fact]
    public void LoraWithoutABaseModelIsAUsageErrorThatSaysWhatToAdd()
    {
        var (exit, _, err) = Slm("train", "--data", Corpus(), "--out", Path.Combine(_dir, "run"), "--lora");
        Assert.Equal(2, exit);
        Assert.Contains("--base", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "run")));
    }

    [Fact]
    public void LoraSettingsWithoutLoraAreAUsageError()
    {
        var (exit, _, err) = Slm("train", "--data", Corpus(), "--out", Path.Combine(_dir, "run"), "--base", FixturePaths.Fixture("tiny-llama-hf"), "--lora-rank", "4");
        Assert.Equal(2, exit);
        Assert.Contains("only with --lora", err);
    }

    [Fact]
    public void ClassifierWithLoraTrainsAdaptersAndTheHeadOnAFusedBaseAndExportsWithParity()
    {
        var data = Path.Combine(_dir, "tickets.csv");
        File.WriteAllText(data, ClassifyCliTests.MakeCsv(perLabel: 12, seed: 5));
        var run = Path.Combine(_dir, "run");
        var (exit, stdout, err) = Slm("train", "--task", "classify", "--data", data, "--text-column", "message", "--label-column", "team", "--out", run,
            "--base", FixturePaths.Fixture("tiny-phi3-hf"), "--lora", "--lora-rank", "4", "--max-steps", "6", "--batch-size", "8", "--eval-every", "3");
        Assert.True(exit == 0, err + stdout);

        var adapter = Path.Combine(run, "classifier", "adapter");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")))!;
        Assert.Equal("SEQ_CLS", config["task_type"]!.GetValue<string>());
        Assert.Equal(["score"], config["modules_to_save"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal(["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], config["target_modules"]!.AsArray().Select(m => m!.GetValue<string>()));

        var saved = SlmStudio.Core.Models.SafetensorsFile.ReadHeader(Path.Combine(adapter, "adapter_model.safetensors")).Entries.Select(e => e.Name).ToList();
        Assert.Contains("base_model.model.score.weight", saved);
        Assert.Contains("base_model.model.model.layers.0.self_attn.qkv_proj.lora_B.weight", saved);
        Assert.DoesNotContain(saved, n => n.EndsWith("qkv_proj.weight", StringComparison.Ordinal)); // the frozen base is not part of an adapter

        var artifact = Path.Combine(_dir, "artifact");
        var (exportExit, exported, exportErr) = Slm("export", run, "--out", artifact);
        Assert.True(exportExit == 0, exportErr + exported);
        Assert.Contains("top labels identical", exported);
    }

    [Fact]
    public void TrainWithLoraSavesTheMergedModelAndThePeftAdapterWithTheGivenRank()
    {
        var run = Path.Combine(_dir, "run");
        var (exit, stdout, err) = Slm("train", "--data", Corpus(), "--out", run, "--base", FixturePaths.Fixture("tiny-llama-hf"),
            "--lora", "--lora-rank", "4", "--lora-alpha", "4", "--lora-dropout", "0", "--max-steps", "4", "--eval-every", "2", "--batch-size", "4", "--context", "32", "--device", "cpu");
        Assert.True(exit == 0, err + stdout);
        var adapterConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "model", "adapter", "adapter_config.json")))!;
        Assert.Equal(4, adapterConfig["r"]!.GetValue<int>());
        Assert.Equal(4, adapterConfig["lora_alpha"]!.GetValue<double>());
        Assert.True(File.Exists(Path.Combine(run, "model", "model.safetensors")));
        var started = stdout.Split('\n').Select(l => l.Trim()).First(l => l.Contains("\"started\"", StringComparison.Ordinal));
        Assert.Equal(1e-3, JsonNode.Parse(started)!["learningRate"]!.GetValue<double>()); // LoRA's default, not full fine-tuning's
    }

    [Fact]
    public void BenchLoraOnTheTinyFixtureReportsEveryFigureAndAnEstimateNearTheMeasuredPeak()
    {
        var (exit, stdout, err) = Slm("bench", "lora", "--config", FixturePaths.Fixture("tiny-llama-hf"), "--steps", "2", "--batch-size", "2", "--context", "32", "--lora-rank", "4", "--json");
        Assert.True(exit == 0, err + stdout);
        var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal("tiny-llama-hf", result.GetProperty("config").GetString());
        Assert.True(result.GetProperty("parameters").GetInt64() > result.GetProperty("trainableParameters").GetInt64());
        Assert.True(result.GetProperty("trainableParameters").GetInt64() > 0);
        Assert.True(result.GetProperty("trainingTokensPerSecond").GetDouble() > 0);
        Assert.True(result.GetProperty("exportSeconds").GetDouble() > 0);
        Assert.True(result.GetProperty("parityPassed").GetBoolean());
        Assert.True(result.GetProperty("onnxDecodeTokensPerSecond").GetDouble() > 0);
        var peak = result.GetProperty("peakResidentBytes").GetInt64();
        var estimate = result.GetProperty("estimatedPeakBytes").GetInt64();
        Assert.InRange(peak, estimate / 2, estimate * 2);
    }

    [Fact]
    public void BenchLoraPeakMemoryOfAModelWithRealActivationsIsNearTheEstimate()
    {
        // Big enough that weights (29 MB) and activations (a few hundred MB) outweigh the runtime, small enough for seconds.
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "shape")).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 688,
             "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 8192,
             "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "tie_word_embeddings": false}
            """);
        var (exit, stdout, err) = Slm("bench", "lora", "--config", folder, "--steps", "1", "--batch-size", "8", "--context", "128", "--json");
        Assert.True(exit == 0, err + stdout);
        var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        var peak = result.GetProperty("peakResidentBytes").GetInt64();
        var estimate = result.GetProperty("estimatedPeakBytes").GetInt64();
        Assert.True(estimate > 2 * (200L << 20), $"the estimate {estimate:N0} should be mostly model, not runtime");
        Assert.InRange(peak, estimate / 2, estimate * 3 / 2);
    }
}
