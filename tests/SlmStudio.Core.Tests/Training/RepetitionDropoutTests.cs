using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

[Collection(AloneCollection.Name)]
public class RepetitionDropoutTests
{
    private static LlamaForCausalLM SmallModel(int vocabSize = 64)
    {
        var model = new LlamaForCausalLM(new LlamaConfig { VocabSize = vocabSize, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 2, NumKvHeads = 2, MaxPositions = 32 });
        model.InitializeWeights(3);
        return model;
    }

    [Fact]
    public void DropoutChangesOnlyTrainingModeOutputs()
    {
        using var model = SmallModel();
        using var ids = tensor(new long[] { 1, 5, 9, 13, 2, 7, 11, 3 }, [1, 8]);
        model.eval();
        using var plain = model.forward(ids).detach();

        model.ResidualDropout = 0.3;
        Assert.Equal(0.3, model.ResidualDropout);
        using (var evaluated = model.forward(ids).detach())
            Assert.True(evaluated.allclose(plain), "dropout changed an evaluation-mode forward pass");
        model.train();
        using var dropped = model.forward(ids).detach();
        Assert.False(dropped.allclose(plain, atol: 1e-4), "dropout in training mode left the outputs unchanged");

        model.ResidualDropout = 0;
        using var undropped = model.forward(ids).detach();
        Assert.True(undropped.allclose(plain), "a training-mode forward pass without dropout differs from evaluation mode");
    }

    [Fact]
    public void SavedModelsCarryNoDropout()
    {
        var dir = TestPaths.NewTempDir();
        var tokenizer = new SlmStudio.Core.Tokenization.BpeTrainer(300).Train(["the quick brown fox jumps over the lazy dog"], CancellationToken.None);
        using (var model = SmallModel(tokenizer.VocabSize))
        {
            model.ResidualDropout = 0.3;
            ModelFolder.Save(model, tokenizer, dir);
        }
        Assert.DoesNotContain("dropout", File.ReadAllText(Path.Combine(dir, ModelFolder.ConfigFile)), StringComparison.OrdinalIgnoreCase);
        var (loaded, _) = ModelFolder.Load(dir);
        using (loaded) Assert.Equal(0, loaded.ResidualDropout);
    }

    [Theory]
    [InlineData(10, 0.05, 0)]
    [InlineData(11.9, 0.05, 0)]
    [InlineData(RepetitionDropout.ManyPasses, 0.05, RepetitionDropout.Rate)]
    [InlineData(23.9, 0.05, RepetitionDropout.Rate)]
    [InlineData(RepetitionDropout.VeryManyPasses, 0.05, RepetitionDropout.HighRate)] // 100 KB for the tiny preset
    [InlineData(30, 0.17, RepetitionDropout.HighRate)]                              // 300 KB
    [InlineData(30, 0.41, RepetitionDropout.Rate)]                                  // 1 MB: a text large enough for the model
    [InlineData(40, RepetitionDropout.SmallTextTokensPerParameter, RepetitionDropout.Rate)]
    public void DropoutStartsAtManyReadingsOfTheTextAndRisesForASmallText(double passes, double trainTokensPerParameter, double expected) =>
        Assert.Equal(expected, RepetitionDropout.For(passes, trainTokensPerParameter));

    [Theory]
    [InlineData(3.7, RepetitionWeightDecay.Default)]
    [InlineData(6.9, RepetitionWeightDecay.Default)]
    [InlineData(RepetitionWeightDecay.ManyPasses, RepetitionWeightDecay.High)]
    [InlineData(40, RepetitionWeightDecay.High)]
    public void StrongWeightDecayStartsAtSevenReadings(double passes, double expected) => Assert.Equal(expected, RepetitionWeightDecay.For(passes));

    [Fact]
    public void RunThatReadsItsTextManyTimesTrainsWithDropoutAndWeightDecayAndKeepsThemWhenResumed()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 100);
        var run = Path.Combine(dir, "run");
        // 40 steps of 16 x 64 tokens read the ~1,400 training tokens about 29 times.
        var options = TrainingFixture.Options(data, run, maxSteps: 40, evalEvery: 20);
        using var cts = new CancellationTokenSource();
        var first = new TrainingFixture.Recorder { OnEvent = e => { if (e is CheckpointSaved { Step: 20 }) cts.Cancel(); } };
        new Trainer(options, first).Run(false, cts.Token);
        var settings = RunPreparation.Load(RunFolder.At(run)).Settings;
        var rate = RepetitionDropout.For(RepetitionDropout.Passes(40, 16 * 64, settings.TrainTokens), settings.TrainTokensPerParameter);
        Assert.True(rate > 0, $"the fixture reads its {settings.TrainTokens} tokens too few times");
        Assert.Contains(first.Events.OfType<TrainingMessage>(), m => m.Text.Contains($"dropout {rate:0.##}"));
        Assert.Contains(first.Events.OfType<TrainingMessage>(), m => m.Text.Contains($"weight decay {RepetitionWeightDecay.High:0.##}"));
        Assert.Equal(rate, CheckpointDropout(run));
        Assert.Equal(RepetitionWeightDecay.High, CheckpointWeightDecay(run));
        Assert.Equal(MatrixOptimizer.Muon, CheckpointStateOf(run).Optimizer);

        var second = new TrainingFixture.Recorder();
        new Trainer(options, second).Run(true, CancellationToken.None);
        Assert.Equal(rate, CheckpointDropout(run));
        Assert.Equal(RepetitionWeightDecay.High, CheckpointWeightDecay(run));
        Assert.Equal(MatrixOptimizer.Muon, CheckpointStateOf(run).Optimizer);
        Assert.DoesNotContain(second.Events.OfType<TrainingMessage>(), m => m.Text.Contains("dropout") || m.Text.Contains("weight decay"));
        // The dropout masks of each step, and Muon's momentum, are the same with and without the interruption.
        var straight = new TrainingFixture.Recorder();
        new Trainer(options with { RunDirectory = Path.Combine(dir, "straight") }, straight).Run(false, CancellationToken.None);
        TrainingFixture.AssertResumedLossesMatch(straight, second, resumedAt: 20, tolerance: 1e-3);

        // Few readings, or a dropout the user chose, and the rule stays out of it.
        var few = new TrainingFixture.Recorder();
        new Trainer(TrainingFixture.Options(data, Path.Combine(dir, "few"), maxSteps: 2, evalEvery: 20), few).Run(false, CancellationToken.None);
        Assert.Equal(0, CheckpointDropout(Path.Combine(dir, "few")));
        Assert.Equal(RepetitionWeightDecay.Default, CheckpointWeightDecay(Path.Combine(dir, "few")));
        new Trainer(options with { RunDirectory = Path.Combine(dir, "chosen"), MaxSteps = 2, Dropout = 0.05, WeightDecay = 0.3, Optimizer = MatrixOptimizer.AdamW }, new TrainingFixture.Recorder()).Run(false, CancellationToken.None);
        Assert.Equal(0.05, CheckpointDropout(Path.Combine(dir, "chosen")));
        Assert.Equal(0.3, CheckpointWeightDecay(Path.Combine(dir, "chosen")));
        Assert.Equal(MatrixOptimizer.AdamW, CheckpointStateOf(Path.Combine(dir, "chosen")).Optimizer);
        // Fine-tuning reads a text as often and keeps the default decay: the strong one is measured only from scratch.
        var fineTuned = new TrainingFixture.Recorder();
        new Trainer(options with { RunDirectory = Path.Combine(dir, "fine-tuned"), MaxSteps = 40, BaseModel = RunFolder.At(run).ModelDirectory }, fineTuned).Run(false, CancellationToken.None);
        Assert.Equal(RepetitionWeightDecay.Default, CheckpointWeightDecay(Path.Combine(dir, "fine-tuned")));
        Assert.Equal(MatrixOptimizer.AdamW, CheckpointStateOf(Path.Combine(dir, "fine-tuned")).Optimizer);
        Assert.DoesNotContain(fineTuned.Events.OfType<TrainingMessage>(), m => m.Text.Contains("weight decay"));
        new Trainer(options with { RunDirectory = Path.Combine(dir, "off"), MaxSteps = 2, Dropout = 0 }, new TrainingFixture.Recorder()).Run(false, CancellationToken.None);
        Assert.Equal(0, CheckpointDropout(Path.Combine(dir, "off")));
    }

    private static double CheckpointDropout(string run) => CheckpointStateOf(run).ResidualDropout;

    private static double? CheckpointWeightDecay(string run) => CheckpointStateOf(run).WeightDecay;

    private static CheckpointState CheckpointStateOf(string run)
    {
        var (_, metadata) = SafetensorsFile.ReadWithMetadata(RunFolder.At(run).CheckpointFile);
        return System.Text.Json.JsonSerializer.Deserialize<CheckpointState>(metadata["state"])!;
    }
}
