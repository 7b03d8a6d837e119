using System.Text.Json.Nodes;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Instruction;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Instruction;

/// <summary>Instruction tuning end to end on the stories260K base model and 30 pairs: a few dozen steps, a few seconds.</summary>
public sealed class InstructionRunTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-instruction-run");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Events : IProgress<TrainingEvent>
    {
        public List<TrainingEvent> All { get; } = [];
        public void Report(TrainingEvent value) { lock (All) All.Add(value); }
    }

    [Fact]
    public async Task Tuning_a_base_model_lowers_the_held_out_answer_loss_and_exports_a_chat_model()
    {
        var data = Path.Combine(_dir, "faq.csv");
        File.WriteAllText(data, InstructionTestData.Csv(30));
        var events = new Events();
        var options = new InstructionRunOptions
        {
            DataPath = data, RunDirectory = Path.Combine(_dir, "run"), BaseModel = Path.Combine(TestPaths.Fixtures, "stories260K-hf"),
            MaxSteps = 40, EvalEvery = 5, LogEvery = 5, BatchSize = 8, LearningRate = 3e-3, ValidationFraction = 0.2, Seed = 5, Device = "cpu",
        };

        var finished = new InstructionRun(options, events).Run(CancellationToken.None);

        var evals = events.All.OfType<EvaluationResult>().ToList();
        Assert.True(evals.Count >= 4);
        Assert.True(evals[^1].ValLoss < evals[0].ValLoss * 0.8, $"held-out answer loss {evals[0].ValLoss} -> {evals[^1].ValLoss}");
        Assert.IsType<TrainingFinished>(events.All[^1]); // finished comes last, after the evaluation
        Assert.Single(events.All.OfType<TrainingFinished>());
        Assert.Equal("PlainText", finished.Template);
        Assert.Equal(6, finished.Evaluation.Questions);
        Assert.InRange(finished.Evaluation.TokenF1, 0, 1);
        // The story model knew nothing of these answers before; afterwards it gets their shape right.
        Assert.True(finished.Evaluation.TokenF1 > finished.Before.TokenF1, $"token F1 {finished.Before.TokenF1} -> {finished.Evaluation.TokenF1}");

        var folder = InstructionRunFolder.At(options.RunDirectory);
        var results = JsonNode.Parse(File.ReadAllText(folder.ResultsFile))!;
        Assert.Equal(finished.Evaluation.TokenF1, results["tokenF1"]!.GetValue<double>());
        Assert.NotEmpty(results["worst"]!.AsArray());
        Assert.Equal(finished.Before.TokenF1, results["before"]!["tokenF1"]!.GetValue<double>());
        Assert.NotNull(results["worst"]![0]!["expected"]);
        Assert.NotNull(results["worst"]![0]!["got"]);

        var artifact = Path.Combine(_dir, "artifact");
        var export = ModelExporter.Export(options.RunDirectory, artifact);
        Assert.True(export.Passed);
        Assert.Equal("chat", JsonNode.Parse(File.ReadAllText(Path.Combine(artifact, "manifest.json")))!["task"]!.GetValue<string>());
        Assert.Equal(InstructionTemplate.PlainTextJinja, JsonNode.Parse(File.ReadAllText(Path.Combine(artifact, "tokenizer_config.json")))!["chat_template"]!.GetValue<string>());
        Assert.Contains("## Chat with this model", File.ReadAllText(Path.Combine(artifact, "README.md")));

        using var onnx = OnnxArtifact.Open(artifact);
        var chat = new ChatSession(onnx);
        var answer = await chat.AskAsync("What colour is Tom's door?");
        Assert.NotEmpty(answer);
        Assert.DoesNotContain("###", answer);
        Assert.DoesNotContain("</s>", answer);
        Assert.Equal(2, chat.History.Count);
        await chat.AskAsync("And Ann's hat?");
        Assert.Equal(4, chat.History.Count);

        // Goal tests: "question -> answer must contain"; the answer's own first word always passes, a word it lacks fails.
        var firstWord = answer.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var goals = await ChatGoalTests.RunAsync(onnx, [new ChatGoal("What colour is Tom's door?", firstWord.ToUpperInvariant()), new ChatGoal("What colour is Tom's door?", "zebra")]);
        Assert.Equal(answer, goals[0].Answer); // greedy: the same answer every time
        Assert.Equal([true, false], goals.Select(g => g.Passed));
    }

    [Fact]
    public void From_scratch_the_language_phase_comes_first_with_chat_tokens_in_the_new_tokenizer()
    {
        var data = Path.Combine(_dir, "faq.csv");
        File.WriteAllText(data, InstructionTestData.Csv(30));
        var events = new Events();
        var options = new InstructionRunOptions
        {
            DataPath = data, RunDirectory = Path.Combine(_dir, "run"), Preset = "tiny", VocabSize = 300, ContextLength = 64,
            MaxSteps = 8, EvalEvery = 4, LogEvery = 4, BatchSize = 4, Seed = 2, Device = "cpu",
        };

        var finished = new InstructionRun(options, events).Run(CancellationToken.None);

        Assert.Equal("OwnChatMl", finished.Template);
        Assert.Equal("scratch", finished.Route);
        var folder = InstructionRunFolder.At(options.RunDirectory);
        Assert.True(File.Exists(Path.Combine(folder.LanguageRun.ModelDirectory, "model.safetensors")));
        Assert.True(ChatVocabulary.IsIn(SlmStudio.Core.Tokenization.TokenizerFile.Load(folder.AsRun.TokenizerFile)));
        Assert.Contains(events.All.OfType<TrainingMessage>(), m => m.Text.Contains("The language phase finished"));
        Assert.Single(events.All.OfType<TrainingStarted>());
        Assert.Equal(InstructionTemplate.OwnChatMlJinja,
            JsonNode.Parse(File.ReadAllText(Path.Combine(folder.AsRun.ModelDirectory, "tokenizer_config.json")))!["chat_template"]!.GetValue<string>());
    }

    [Fact]
    public void Too_few_pairs_are_refused_before_anything_is_trained()
    {
        var data = Path.Combine(_dir, "faq.csv");
        File.WriteAllText(data, InstructionTestData.Csv(4));
        var options = new InstructionRunOptions { DataPath = data, RunDirectory = Path.Combine(_dir, "run"), BaseModel = Path.Combine(TestPaths.Fixtures, "stories260K-hf"), MaxSteps = 4 };
        var error = Assert.Throws<EngineException>(() => new InstructionRun(options, new Events()).Run(CancellationToken.None));
        Assert.Contains("only 4 usable questions and answers", error.Message);
        Assert.False(File.Exists(RunFolder.At(options.RunDirectory).SettingsFile));
    }

    [Fact]
    public void Held_out_questions_never_appear_in_training_even_when_repeated()
    {
        var pairs = Enumerable.Range(0, 40).Select(i => Conversation.Pair($"Question {i % 20}?", $"Answer {i}.", row: i + 2)).ToList();
        var (train, validation) = InstructionRun.Split(pairs, 0.1, seed: 3);
        Assert.Equal(40, train.Count + validation.Count);
        Assert.InRange(validation.Count, 2, 6);
        Assert.Empty(train.Select(c => c.Question).Intersect(validation.Select(c => c.Question)));
    }
}
