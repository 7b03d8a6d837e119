using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Processes;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

/// <summary>Issue #12, bug 13: the live samples during training continue the user's goal tests, decoded as the playground decodes.</summary>
public class SamplePromptTests
{
    [Fact]
    public void GoalPromptsAreTheLiveSamples()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir);
        string[] goals = ["Our support team answers", "  ", "Order 123 from Anna ships to", "Our support team answers"];
        var options = TrainingFixture.Options(data, Path.Combine(dir, "run"), maxSteps: 40, evalEvery: 20) with { SamplePrompts = goals };
        var recorder = new TrainingFixture.Recorder();
        new Trainer(options, recorder).Run(resume: false, CancellationToken.None);

        var evals = recorder.Events.OfType<EvaluationResult>().ToList();
        Assert.Equal(2, evals.Count);
        // Blank and repeated goals are left out; the order is the user's.
        Assert.All(evals, e => Assert.Equal(["Our support team answers", "Order 123 from Anna ships to"], e.Samples.Select(s => s.Prompt)));
        Assert.All(evals.SelectMany(e => e.Samples), s => Assert.StartsWith(s.Prompt, s.Text));
        // A resumed run reads its prompts from run.json.
        Assert.Contains("Order 123 from Anna ships to", File.ReadAllText(Path.Combine(dir, "run", "run.json")));
    }

    [Fact]
    public void WithoutGoalPromptsSamplesContinueValidationText()
    {
        var prompts = RunPreparation.ChooseSamplePrompts(null, ["The first document starts here and goes on.", "Second one."]);
        Assert.Equal("The first document starts", prompts[0]);
        Assert.Equal(prompts, RunPreparation.ChooseSamplePrompts([" ", ""], ["The first document starts here and goes on.", "Second one."]));
        Assert.Equal(RunPreparation.MaxSamplePrompts, RunPreparation.ChooseSamplePrompts(Enumerable.Range(0, 9).Select(i => $"goal {i}").ToList(), ["x"]).Count);
    }

    [Fact]
    public void SamplesUseThePlaygroundDecodingNotGreedy()
    {
        TorchSharp.torch.manual_seed(3);
        var config = ModelPresets.Get("tiny").ConfigFor(300) with { NumLayers = 1, MaxPositions = 64 };
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(3);
        int[] prompt = [1, 2, 3];
        var playground = new GenerationSettings(24, Seed: 5);
        Assert.True(playground.Temperature > 0 && playground.RepetitionPenalty > 1, "the playground's defaults sample with a repetition penalty");

        var first = Generation.Sample(model, prompt, playground);
        Assert.Equal(first, Generation.Sample(model, prompt, playground)); // the same seed, the same sample
        Assert.Equal(24, first.Length);
        Assert.NotEqual(first, Generation.Sample(model, prompt, playground with { Seed = 6 }));
        // Greedy decoding of an untrained model repeats itself; the playground's decoding does not stay on one token.
        Assert.True(first.Distinct().Count() > 4, string.Join(' ', first));
        Assert.Equal(Generation.Greedy(model, prompt, 24), Generation.Sample(model, prompt, GenerationSettings.Greedy(24)));
    }

    [Fact]
    public void LauncherPassesGoalPromptsAsSingleTokens()
    {
        var args = SlmLauncher.TrainCommandLine(new TrainArguments("data", "run") { SamplePrompts = ["-dash first", "two words"] });
        Assert.Equal(["--sample-prompt=-dash first", "--sample-prompt=two words"], args.Where(a => a.StartsWith("--sample-prompt", StringComparison.Ordinal)));
    }
}

/// <summary>Issue #15, quality per minute: a slow machine's short budget gets enough steps from a smaller batch.</summary>
public class BatchForBudgetTests
{
    [Fact]
    public void BatchShrinksOnlyWhenThePresetsBatchLeavesTooFewSteps()
    {
        var tiny = ModelPresets.Get("tiny");
        // Fast enough: 300 steps of the preset's batch fit, nothing changes.
        var fast = PresetSelector.BatchForBudget(tiny, 256, tokensPerSecond: 20_000, budgetSeconds: 300);
        Assert.Equal((tiny.BatchSize, tiny.LearningRate), fast);
        // A tenth of that speed: a smaller batch that gives 300 steps, and a smaller learning rate for it.
        var slow = PresetSelector.BatchForBudget(tiny, 256, tokensPerSecond: 2_000, budgetSeconds: 300);
        Assert.True(slow.BatchSize < tiny.BatchSize && 300L * slow.BatchSize * 256 <= 2_000 * 300, $"batch {slow.BatchSize}");
        Assert.True(slow.LearningRate < tiny.LearningRate);
        // A crawling machine still trains on whole sequences, never on an empty batch.
        Assert.Equal(PresetSelector.MinimumBatchSize, PresetSelector.BatchForBudget(tiny, 256, tokensPerSecond: 80, budgetSeconds: 300).BatchSize);
    }
}
