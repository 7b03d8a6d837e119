using System.Security.Cryptography;
using System.Text.Json.Nodes;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export;
using SlmStudio.Core.Library;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

/// <summary>The trainer with LoRA on: what it optimises, what it checkpoints, what the run's model folder holds, and export.</summary>
[Collection(AloneCollection.Name)]
public sealed class LoraTrainingTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-lora-train");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private TrainingOptions LoraOptions(string run, int maxSteps, int evalEvery, double dropout = 0.05) =>
        TrainingFixture.Options(TrainingFixture.WriteCorpus(_dir, lines: 300), Path.Combine(_dir, run), maxSteps, evalEvery) with
        {
            Preset = "auto",
            BaseModel = TestPaths.TinyLlama,
            BatchSize = 8,
            Lora = new LoraConfig { Rank = 4, Alpha = 8, Dropout = dropout },
        };

    private static float[] Logits(LlamaForCausalLM model)
    {
        using var _ = no_grad();
        using var ids = tensor(new long[] { 1, 45, 77, 12, 200, 9 }).unsqueeze(0);
        using var logits = model.forward(ids);
        return logits.data<float>().ToArray();
    }

    [Fact]
    public void LoraRunOptimisesOnlyAdaptersAndLeavesAMergedModelWithItsPeftAdapter()
    {
        var options = LoraOptions("run", maxSteps: 20, evalEvery: 10);
        var recorder = new TrainingFixture.Recorder();
        var finished = new Trainer(options, recorder).Run(false, CancellationToken.None);
        var folder = RunFolder.At(options.RunDirectory);
        var baseConfig = LlamaConfig.Load(Path.Combine(TestPaths.TinyLlama, ModelFolder.ConfigFile));

        // The checkpoint holds adapters and their AdamW moments, nothing of the frozen base.
        var checkpoint = SafetensorsFile.Read(folder.CheckpointFile);
        var adapterTensors = baseConfig.NumLayers * 7 * 2; // q, k, v, o, gate, up, down: an A and a B each
        Assert.DoesNotContain(checkpoint.Keys, k => k.StartsWith("model.", StringComparison.Ordinal));
        Assert.Equal(adapterTensors, checkpoint.Keys.Count(k => k.StartsWith("lora.", StringComparison.Ordinal)));
        var moments = checkpoint.Keys.Where(k => k.StartsWith("adam.", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 * adapterTensors, moments.Count);
        Assert.All(moments, k => Assert.Matches(@"\.lora_[AB]\.weight$", k));

        var evals = recorder.Events.OfType<EvaluationResult>().ToList();
        Assert.True(evals[^1].ValLoss < evals[0].ValLoss, $"validation loss went from {evals[0].ValLoss} to {evals[^1].ValLoss}");
        Assert.Equal(evals.Min(e => e.ValLoss), finished.BestValLoss, 6);

        // The model folder is a plain model with the adapters merged in: the same as the base plus the saved adapter.
        var (merged, _) = ModelFolder.Load(folder.ModelDirectory);
        using var _m = merged;
        var (baseModel, _) = ModelFolder.Load(TestPaths.TinyLlama);
        using var _b = baseModel;
        var baseLogits = Logits(baseModel);
        using var adapters = LoraAdapters.LoadPeft(baseModel, folder.AdapterDirectory);
        var adapted = Logits(baseModel);
        var mergedLogits = Logits(merged);
        Assert.True(mergedLogits.Zip(baseLogits).Max(p => Math.Abs(p.First - p.Second)) > 1e-4, "training changed nothing");
        Assert.True(mergedLogits.Zip(adapted).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);

        // Lineage: the base model's name and the SHA-256 of its weights, recorded when the run started.
        var lineage = BaseModelLineage.Read(folder.BaseModelFile)!;
        Assert.Equal("tiny-llama-hf", lineage.Name);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(TestPaths.TinyLlama, ModelFolder.WeightsFile)))), lineage.WeightsSha256);
        Assert.Equal("tiny-llama-hf", JsonNode.Parse(File.ReadAllText(Path.Combine(folder.AdapterDirectory, LoraAdapters.AdapterConfigFile)))!["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal(4, JsonNode.Parse(File.ReadAllText(folder.SettingsFile))!["options"]!["lora"]!["rank"]!.GetValue<int>());

        // Export: merged weights in ONNX (parity as always), the adapter beside them, the base in manifest and card.
        var artifact = Path.Combine(_dir, "artifact");
        var exported = ModelExporter.Export(options.RunDirectory, artifact);
        Assert.True(exported.Passed);
        var manifest = ArtifactManifest.Load(artifact);
        Assert.Equal(lineage, manifest.BaseModel);
        Assert.Equal(LoraAdapters.FolderName, manifest.Adapter);
        Assert.Contains(manifest.Files, f => f.Path == "adapter/adapter_model.safetensors");
        Assert.Contains(manifest.Files, f => f.Path == "adapter/adapter_config.json");
        Assert.Empty(manifest.Mismatches(artifact));
        var card = File.ReadAllText(Path.Combine(artifact, "README.md"));
        Assert.Contains("tiny-llama-hf", card);
        Assert.Contains(lineage.WeightsSha256, card);
    }

    [Fact]
    public void ResumedLoraRunMatchesUninterruptedRun()
    {
        // Dropout off: its random masks are not part of a checkpoint, so with it the two runs would differ by chance.
        var straight = new TrainingFixture.Recorder();
        new Trainer(LoraOptions("a", maxSteps: 20, evalEvery: 10, dropout: 0), straight).Run(false, CancellationToken.None);

        using var cts = new CancellationTokenSource();
        var first = new TrainingFixture.Recorder { OnEvent = e => { if (e is CheckpointSaved { Step: 10 }) cts.Cancel(); } };
        var options = LoraOptions("b", maxSteps: 20, evalEvery: 10, dropout: 0);
        Assert.True(new Trainer(options, first).Run(false, cts.Token).Cancelled);

        var second = new TrainingFixture.Recorder();
        var resumed = new Trainer(options, second).Run(true, CancellationToken.None);
        Assert.Equal(20, resumed.Step);
        Assert.Equal(10, second.Events.OfType<TrainingStarted>().Single().StartStep);
        TrainingFixture.AssertResumedLossesMatch(straight, second, resumedAt: 10, tolerance: 1e-4);
        Assert.Equal(straight.Events.OfType<EvaluationResult>().Last().ValLoss, second.Events.OfType<EvaluationResult>().Last().ValLoss, 4);
    }
}
