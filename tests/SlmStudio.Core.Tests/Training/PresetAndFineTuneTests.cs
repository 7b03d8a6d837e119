using SlmStudio.Core.Models;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

public class PresetAndFineTuneTests
{
    [Fact]
    public void PresetParameterCountsAreComputedAndOrdered()
    {
        var counts = ModelPresets.All.Select(p => p.ParameterCount(4096)).ToList();
        Assert.Equal(["tiny", "small", "medium", "large"], ModelPresets.All.Select(p => p.Name));
        Assert.Equal(counts.Order(), counts);
        Assert.InRange(counts[0], 0.5e6, 2e6);
        Assert.InRange(counts[1], 5e6, 15e6);
        Assert.InRange(counts[2], 20e6, 45e6);
        Assert.InRange(counts[3], 70e6, 130e6);
        foreach (var preset in ModelPresets.All)
        {
            using var model = new LlamaForCausalLM(preset.ConfigFor(4096));
            Assert.Equal(preset.ParameterCount(4096), model.parameters().Sum(p => p.numel()));
        }
    }

    [Fact]
    public void AutoPresetGrowsWithDataAndTime()
    {
        // Speeds as if measured: each size twice as slow per token per doubling of FLOPs.
        double Speed(ModelPreset p) => 4e10 * 0.5 / (6.0 * p.ParameterCount(4096));
        var device = TorchSharp.torch.CPU;
        var littleData = PresetSelector.Choose(trainTokens: 20_000, budgetSeconds: 600, 4096, device, Speed);
        var muchDataShortTime = PresetSelector.Choose(trainTokens: 50_000_000, budgetSeconds: 300, 4096, device, Speed);
        var muchDataLongTime = PresetSelector.Choose(trainTokens: 50_000_000, budgetSeconds: 3 * 24 * 3600, 4096, device, Speed);
        Assert.Equal("tiny", littleData.Preset.Name);
        Assert.True(IndexOf(muchDataLongTime.Preset) > IndexOf(muchDataShortTime.Preset));
        Assert.Contains("tokens", littleData.Reason);
        static int IndexOf(ModelPreset p) => ModelPresets.All.ToList().IndexOf(p);
    }

    [Fact]
    public void FineTuningStartsFromHuggingFaceFolderWithItsTokenizer()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 300);
        var run = Path.Combine(dir, "run");
        var recorder = new TrainingFixture.Recorder();
        var options = TrainingFixture.Options(data, run, maxSteps: 20, evalEvery: 10) with { Preset = "auto", BaseModel = TestPaths.TinyLlama, BatchSize = 8 };
        var finished = new Trainer(options, recorder).Run(false, CancellationToken.None);

        var started = recorder.Events.OfType<TrainingStarted>().Single();
        Assert.Equal("base", started.Preset);
        Assert.Equal(323, started.VocabSize);
        var evals = recorder.Events.OfType<EvaluationResult>().ToList();
        Assert.True(evals[^1].ValLoss < evals[0].ValLoss + 1e-9);
        var (model, config) = ModelFolder.Load(Path.Combine(run, "model"));
        var baseConfig = LlamaConfig.Load(Path.Combine(TestPaths.TinyLlama, "config.json"));
        Assert.Equal(baseConfig with { HeadDimOverride = baseConfig.HeadDim }, config);
        Assert.Equal(
            SlmStudio.Core.Tokenization.TokenizerFile.Load(Path.Combine(TestPaths.TinyLlama, "tokenizer.json")).Encode("the cat and the win", true),
            SlmStudio.Core.Tokenization.TokenizerFile.Load(Path.Combine(run, "model", "tokenizer.json")).Encode("the cat and the win", true));
        Assert.True(finished.BestValLoss < Math.Log(323));
    }
}
