using System.Diagnostics;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Instruction;

/// <summary>The held-out scores of one model in the instruction-tuning benchmark.</summary>
public sealed record AnswerScores(double ExactMatch, double TokenF1, double RougeL)
{
    public static AnswerScores Of(AnswerEvaluation e) => new(e.ExactMatch, e.TokenF1, e.RougeL);
}

/// <summary>
/// What the instruction-tuning benchmark measured: the held-out scores of the same model shape untrained (random
/// weights), after the language phase (before it learned to answer) and after instruction tuning, the minutes the
/// training took, and a few held-out answers to read.
/// </summary>
public sealed record InstructionBenchmarkResult(
    int TrainPairs, int HeldOutQuestions, long Parameters, string Preset, double LanguagePhaseShare,
    AnswerScores Untrained, AnswerScores AfterLanguagePhase, AnswerScores After,
    double TrainingMinutes, double TotalMinutes, int Steps, IReadOnlyList<AnswerExample> Examples);

/// <summary>
/// "Answer questions" from scratch on a company's own pairs (<see cref="CompanyQuestions"/>): trains an
/// <see cref="InstructionRun"/> (language phase, then answers) on the training pairs for a time budget and scores greedy
/// answers to the held-out phrasings, which the run never saw, before and after.
/// </summary>
public static class InstructionBenchmark
{
    public sealed record Options
    {
        public double Minutes { get; init; } = 10;
        public int? MaxSteps { get; init; }
        public string Preset { get; init; } = TrainingOptions.DefaultPreset;
        public double LanguagePhaseShare { get; init; } = InstructionRunOptions.DefaultLanguagePhaseShare;
        public double? LearningRate { get; init; }
        public int VocabSize { get; init; } = 1024;
        public long Seed { get; init; } = TrainingOptions.DefaultSeed;
        public string Device { get; init; } = TrainingOptions.DefaultDevice;
    }

    public static InstructionBenchmarkResult Run(Options options, string workDirectory, IProgress<TrainingEvent>? progress = null, CancellationToken ct = default)
    {
        var total = Stopwatch.StartNew();
        var (train, heldOut) = CompanyQuestions.Split();
        Directory.CreateDirectory(workDirectory);
        var data = Path.Combine(workDirectory, "company-faq.csv");
        File.WriteAllText(data, CompanyQuestions.Csv(train));
        var run = InstructionRunFolder.At(Path.Combine(workDirectory, "run"));
        var training = Stopwatch.StartNew();
        var finished = new InstructionRun(new InstructionRunOptions
        {
            DataPath = data,
            RunDirectory = run.Root,
            Preset = options.Preset,
            Minutes = options.MaxSteps is null ? options.Minutes : null,
            MaxSteps = options.MaxSteps,
            LanguagePhaseShare = options.LanguagePhaseShare,
            LearningRate = options.LearningRate,
            VocabSize = options.VocabSize,
            Seed = options.Seed,
            Device = options.Device,
            // The benchmark's own held-out phrasings measure the model; the run's validation split only guides training.
            ValidationFraction = 0.05,
            MaxEvaluationQuestions = 10,
        }, progress ?? new Progress<TrainingEvent>()).Run(ct);
        var trainingMinutes = training.Elapsed.TotalMinutes;

        var questions = heldOut.Select((p, i) => Conversation.Pair(p.Question, p.Answer, row: i + 2)).ToList();
        var tokenizer = TokenizerFile.Load(Path.Combine(run.AsRun.ModelDirectory, ModelFolder.TokenizerFile));
        var template = InstructionTemplate.For(tokenizer, null);
        var maxNew = Math.Min(128, heldOut.Max(p => tokenizer.Encode(p.Answer).Length) * 3 / 2 + 8);
        var device = TorchDevice.Parse(options.Device);

        AnswerEvaluation Score(string modelDir, bool randomWeights)
        {
            var (model, config) = ModelFolder.Load(modelDir, device);
            using (model)
            {
                if (randomWeights) model.InitializeWeights(options.Seed);
                model.eval();
                var reply = new TorchReply(model, tokenizer, template);
                return AnswerEvaluation.Of(questions, prompt => reply.Answer(prompt, maxNew), ct);
            }
        }

        var untrained = Score(run.LanguageRun.ModelDirectory, randomWeights: true);
        var afterLanguage = Score(run.LanguageRun.ModelDirectory, randomWeights: false);
        var after = Score(run.AsRun.ModelDirectory, randomWeights: false);
        var parameters = LlamaConfig.Load(Path.Combine(run.AsRun.ModelDirectory, ModelFolder.ConfigFile)).ParameterCount;
        return new InstructionBenchmarkResult(train.Count, questions.Count, parameters, options.Preset, options.LanguagePhaseShare,
            AnswerScores.Of(untrained), AnswerScores.Of(afterLanguage), AnswerScores.Of(after),
            trainingMinutes, total.Elapsed.TotalMinutes, finished.Training.Step, [.. after.Best.Take(3), .. after.Worst.Take(3)]);
    }
}
