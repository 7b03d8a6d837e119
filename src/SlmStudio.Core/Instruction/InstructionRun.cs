using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Data;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Instruction;

/// <summary>Everything an instruction-tuning run ("Answer questions") is started with; unset values take the engine's defaults.</summary>
public sealed record InstructionRunOptions
{
    /// <summary>The share of the time (or steps) that a run from scratch spends learning the language of the texts first.</summary>
    public const double DefaultLanguagePhaseShare = 0.35;
    /// <summary>Conversations are cut to this many tokens when no context length is given.</summary>
    public const int DefaultMaxTokens = 512;
    /// <summary>The held-out evaluation answers at most this many questions (greedy generation takes a while per question).</summary>
    public const int DefaultMaxEvaluationQuestions = 100;

    public required string DataPath { get; init; }
    public required string RunDirectory { get; init; }
    public InstructionColumns Columns { get; init; } = new();
    public string Preset { get; init; } = TrainingOptions.DefaultPreset;
    /// <summary>Optimizer steps of the whole run (language and instruction phases together); null: the time budget decides.</summary>
    public int? MaxSteps { get; init; }
    public double? Minutes { get; init; }
    /// <summary>A Hugging Face model folder, or a finished text run folder, to start from; no language phase then.</summary>
    public string? BaseModel { get; init; }
    /// <summary>Fine-tune a base model with low-rank adapters instead of every weight; ignored from scratch.</summary>
    public Models.LoraConfig? Lora { get; init; }
    public long Seed { get; init; } = TrainingOptions.DefaultSeed;
    public int VocabSize { get; init; } = TrainingOptions.DefaultVocabSize;
    public int? EvalEvery { get; init; }
    public int LogEvery { get; init; } = TrainingOptions.DefaultLogEvery;
    public int? BatchSize { get; init; }
    public int? ContextLength { get; init; }
    /// <summary>Peak learning rate of the instruction phase.</summary>
    public double? LearningRate { get; init; }
    public string Device { get; init; } = TrainingOptions.DefaultDevice;
    /// <summary>The number format of the language-model steps (<see cref="TrainingPrecision"/>).</summary>
    public string Precision { get; init; } = TrainingPrecision.Auto;
    public double LanguagePhaseShare { get; init; } = DefaultLanguagePhaseShare;
    public double ValidationFraction { get; init; } = TrainingOptions.DefaultValidationFraction;
    public int MaxEvaluationQuestions { get; init; } = DefaultMaxEvaluationQuestions;
}

/// <summary>What an instruction-tuning run ended with: the instruction phase's outcome and the held-out answer scores.</summary>
/// <param name="Before">The same held-out questions answered by the model the instruction phase started from.</param>
public sealed record InstructionFinished(TrainingFinished Training, AnswerEvaluation Evaluation, AnswerEvaluation Before, string Template, string Route);

/// <summary>
/// The layout of an instruction-tuning run folder. The instruction phase is an ordinary <see cref="Trainer"/> run in the
/// root (run.json, tokenizer.json, checkpoint/, model/, metrics.jsonl, result.json), so export, resume and the portal's
/// run views work unchanged; beside it: chat.json (task, route, template, split), the frozen split and tokenized
/// conversations in instruction/, the language phase (from scratch) in language/, and chat-results.json.
/// </summary>
public sealed record InstructionRunFolder(string Root)
{
    public const string Task = "chat";

    public static InstructionRunFolder At(string path) => new(Path.GetFullPath(path));

    public RunFolder AsRun => new(Root);
    /// <summary>The task marker and what the run was started with (run.json belongs to the instruction phase's trainer).</summary>
    public string TaskFile => Path.Combine(Root, "chat.json");
    public string DataDirectory => Path.Combine(Root, "instruction");
    public string TrainPairsFile => Path.Combine(DataDirectory, "train-pairs.jsonl");
    public string ValidationPairsFile => Path.Combine(DataDirectory, "validation-pairs.jsonl");
    /// <summary>The tokenized conversations the <see cref="InstructionObjective"/> reads.</summary>
    public string TokensDirectory => Path.Combine(DataDirectory, "tokens");
    /// <summary>The rendered conversations as a dataset version: the instruction phase's trainer measures its text baseline on it.</summary>
    public string TextDirectory => Path.Combine(DataDirectory, "text");
    public string LanguageDataDirectory => Path.Combine(DataDirectory, "language");
    public RunFolder LanguageRun => RunFolder.At(Path.Combine(Root, "language"));
    public string ResultsFile => AsRun.ChatResultsFile;

    /// <summary>True when <paramref name="folder"/> holds an instruction-tuning run (finished or not).</summary>
    public static bool IsInstructionRun(string folder) => File.Exists(At(folder).TaskFile);
}

/// <summary>
/// Trains an "Answer questions" model end to end: reads and reviews the pairs, holds some back (the same question never
/// on both sides), learns the language of the texts first when there is no base model (with chat tokens in the new
/// tokenizer), then tunes on the conversations with the loss on answer tokens only, writes the chat template into the
/// model's tokenizer_config.json, and scores greedy answers to the held-out questions.
/// </summary>
public sealed class InstructionRun(InstructionRunOptions options, IProgress<TrainingEvent> progress, TimeProvider? clock = null)
{
    private readonly InstructionRunFolder _folder = InstructionRunFolder.At(options.RunDirectory);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private static readonly JsonSerializerOptions FileJson = new(TrainingEvent.Json) { WriteIndented = true };

    public InstructionFinished Run(CancellationToken cancellationToken)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // A CANCEL file in the run folder stops every phase, as it stops a text run (the language phase's trainer
        // watches only its own folder).
        using var cancelWatch = new Timer(_ =>
        {
            try { if (File.Exists(_folder.AsRun.CancelFile)) cancellation.Cancel(); }
            catch (ObjectDisposedException) { } // a tick while the run is ending
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        return RunPhases(cancellation.Token);
    }

    private InstructionFinished RunPhases(CancellationToken cancellationToken)
    {
        var started = _clock.GetTimestamp();
        if (File.Exists(_folder.TaskFile) || File.Exists(_folder.AsRun.SettingsFile))
            throw new EngineException($"'{_folder.Root}' already holds a training run. Choose a new run folder.");
        if (options.MaxSteps is < 2) throw new EngineException("An instruction-tuning run needs at least 2 steps.");
        var baseModel = options.BaseModel is { } b ? ResolveBaseModel(b) : null;
        if (baseModel is not null) ModelFolder.CheckBeforeLoading(baseModel, ModelFolder.TrainingBytesPerParameter);

        var conversations = ReadConversations(cancellationToken);
        ReportReview(InstructionDataReview.Of(conversations));
        var usable = conversations.Where(c => c.IsUsable).ToList();
        var (train, validation) = Split(usable, options.ValidationFraction, options.Seed);
        var route = baseModel is null ? "scratch" : "base";
        Directory.CreateDirectory(_folder.DataDirectory);
        WritePairs(_folder.TrainPairsFile, train);
        WritePairs(_folder.ValidationPairsFile, validation);
        Report(new TrainingMessage($"{train.Count:N0} questions with answers to learn from; {validation.Count:N0} held back to measure the model."));

        var (languageSteps, instructionSteps) = StepShares(route);
        string startFrom;
        if (baseModel is null)
        {
            Report(new TrainingMessage(
                $"No base model was given, so the model first learns the language of your questions and answers " +
                $"({(options.MaxSteps is null ? "about " + Math.Round(options.LanguagePhaseShare * 100).ToString(CultureInfo.InvariantCulture) + "% of the time" : $"{languageSteps} steps")}), then learns to answer."));
            TrainLanguagePhase(train, validation, languageSteps, cancellationToken);
            startFrom = _folder.LanguageRun.ModelDirectory;
        }
        else
        {
            Report(new TrainingMessage($"Starting from the base model in {options.BaseModel}: it already knows the language, so training goes straight to the questions and answers."));
            startFrom = baseModel;
        }

        var tokenizer = TokenizerFile.Load(Path.Combine(startFrom, ModelFolder.TokenizerFile));
        var config = LlamaConfig.Load(Path.Combine(startFrom, ModelFolder.ConfigFile));
        var template = InstructionTemplate.For(tokenizer, baseModel);
        Report(new TrainingMessage(template.Kind switch
        {
            InstructionTemplateKind.BaseModel => "The conversations use the base model's own chat template.",
            InstructionTemplateKind.OwnChatMl => "The conversations use a chat template with turn markers that were added to the tokenizer.",
            _ => "The base model has no chat template, so the conversations are written as \"### Question:\" and \"### Answer:\", each answer ending with the end-of-text token.",
        }));
        var maxTokens = Math.Min(options.ContextLength ?? InstructionRunOptions.DefaultMaxTokens, config.MaxPositions);
        var trainTokens = train.Select(c => template.Tokenize(tokenizer, c.Messages, int.MaxValue)).ToList();
        var lengths = new Dictionary<Conversation, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < train.Count; i++) lengths[train[i]] = trainTokens[i].Ids.Length;
        foreach (var f in InstructionDataReview.Of(train, c => lengths[c], maxTokens).Findings.Where(f => f.Kind == InstructionFindingKind.LongerThanContext))
            Report(new TrainingMessage($"{f.Message} {f.Fix}"));
        var trainIds = trainTokens.Select(t => Cut(t, maxTokens)).Where(t => t.AnswerTokens > 0).ToList();
        var validationIds = validation.Select(c => template.Tokenize(tokenizer, c.Messages, maxTokens)).Where(t => t.AnswerTokens > 0).ToList();
        if (trainIds.Count == 0) throw new EngineException("No answer fits in the model's context after its question. Shorten the questions or choose a longer context length.");
        if (validationIds.Count == 0) throw new EngineException("None of the held-back answers fits in the model's context after its question. Shorten the questions or choose a longer context length.");
        var context = Math.Max(8, trainIds.Concat(validationIds).Max(t => t.Ids.Length));
        InstructionObjective.Write(Path.Combine(_folder.TokensDirectory, InstructionObjective.TrainFile), trainIds);
        InstructionObjective.Write(Path.Combine(_folder.TokensDirectory, InstructionObjective.ValidationFile), validationIds);
        WriteTextDataset(template, train, validation);
        AtomicFile.WriteAllText(_folder.TaskFile, JsonSerializer.Serialize(new
        {
            task = InstructionRunFolder.Task,
            route,
            template = template.Kind.ToString(),
            options,
            trainPairs = train.Count,
            validationPairs = validation.Count,
            createdAt = DateTimeOffset.UtcNow,
        }, FileJson));

        // The starting point, so that the user (and the benchmark) sees what the instruction phase added.
        Report(new TrainingMessage($"Answering the {Math.Min(validation.Count, options.MaxEvaluationQuestions):N0} held-back questions with the model before it learns to answer, to compare with afterwards."));
        var before = Evaluate(startFrom, tokenizer, template, validation, cancellationToken);
        Report(new TrainingMessage($"Before: {before.Summary}"));
        var elapsed = _clock.GetElapsedTime(started).TotalMinutes;
        var instructionOptions = new TrainingOptions
        {
            DataPath = _folder.TextDirectory,
            RunDirectory = _folder.Root,
            BaseModel = startFrom,
            MaxSteps = instructionSteps,
            Minutes = instructionSteps is null ? Math.Max(0.1, (options.Minutes ?? TrainingOptions.DefaultMinutes) - elapsed) * 0.9 : null,
            Seed = options.Seed,
            EvalEvery = options.EvalEvery ?? (instructionSteps is { } s ? Math.Clamp(s / 5, 1, TrainingOptions.DefaultEvalEvery) : TrainingOptions.DefaultEvalEvery),
            LogEvery = options.LogEvery,
            BatchSize = options.BatchSize ?? Math.Clamp(trainIds.Count / 4, 1, 16),
            ContextLength = context,
            Lora = route == "scratch" ? null : options.Lora,
            LearningRate = options.LearningRate ?? (route == "scratch" ? 1e-3 : options.Lora is not null ? RunPreparation.LoraLearningRate : RunPreparation.FineTuningLearningRate),
            Device = options.Device,
            Precision = options.Precision,
            InstructionData = _folder.TokensDirectory,
            SamplePrompts = QuestionPrompts(template, validation),
        };
        Report(new TrainingMessage($"Learning to answer: {trainIds.Count:N0} conversations, loss on the answer tokens only (checked on {validationIds.Count:N0} held-back questions)."));
        var relay = new Relay(this, holdFinished: true);
        var finished = new Trainer(instructionOptions, relay, _clock).Run(resume: false, cancellationToken);
        if (finished.Cancelled)
        {
            relay.Release();
            throw new OperationCanceledException(cancellationToken);
        }

        var modelDir = _folder.AsRun.ModelDirectory;
        template.WriteTokenizerConfig(modelDir, tokenizer, config.MaxPositions, baseModel);
        Report(new TrainingMessage($"Answering the {Math.Min(validation.Count, options.MaxEvaluationQuestions):N0} held-back questions to measure the model."));
        var evaluation = Evaluate(modelDir, tokenizer, template, validation, cancellationToken);
        AtomicFile.WriteAllText(_folder.ResultsFile, JsonSerializer.Serialize(new
        {
            summary = evaluation.Summary,
            route,
            template = template.Kind.ToString(),
            evaluation.Questions,
            evaluation.ExactMatch,
            evaluation.TokenF1,
            evaluation.RougeL,
            before = new { before.ExactMatch, before.TokenF1, before.RougeL },
            finished.BestValLoss,
            best = evaluation.Best,
            worst = evaluation.Worst,
            examples = evaluation.Examples,
        }, FileJson));
        Report(new TrainingMessage(evaluation.Summary));
        relay.Release();
        return new InstructionFinished(finished, evaluation, before, template.Kind.ToString(), route);
    }

    /// <summary>Greedy answers of the trained model (TorchSharp) to the held-out questions, scored against the expected answers.</summary>
    private AnswerEvaluation Evaluate(string modelDir, ITokenizer tokenizer, InstructionTemplate template, IReadOnlyList<Conversation> validation, CancellationToken ct)
    {
        var (model, _) = ModelFolder.Load(modelDir, TorchDevice.Parse(options.Device));
        using (model)
        {
            var reply = new TorchReply(model, tokenizer, template);
            return AnswerEvaluation.Of([.. validation.Take(options.MaxEvaluationQuestions)], prompt => reply.Answer(prompt, MaxNewTokensFor(tokenizer, validation)), ct);
        }
    }

    /// <summary>Enough new tokens for the longest expected answer and some more: an answer that runs on is cut there.</summary>
    private static int MaxNewTokensFor(ITokenizer tokenizer, IReadOnlyList<Conversation> validation) =>
        Math.Min(512, validation.Max(c => tokenizer.Encode(c.Answer).Length) * 3 / 2 + 8);

    private static TokenizedConversation Cut(TokenizedConversation t, int maxTokens) =>
        t.Ids.Length <= maxTokens ? t : new TokenizedConversation(t.Ids[..maxTokens], t.IsAnswer[..maxTokens]);

    /// <summary>
    /// Held-out pairs chosen at random (fixed by the seed) by question: every copy of a question goes to the same side,
    /// so a question the model trained on is never counted as held out. At least one question is held out.
    /// </summary>
    public static (List<Conversation> Train, List<Conversation> Validation) Split(IReadOnlyList<Conversation> usable, double fraction, long seed)
    {
        var groups = usable.GroupBy(c => string.Join(' ', AnswerMetrics.Words(c.Question))).Select(g => g.ToList()).ToArray();
        new Random(unchecked((int)(seed ^ (seed >> 32)))).Shuffle(groups);
        var target = Math.Max(1, (int)Math.Round(usable.Count * fraction));
        var train = new List<Conversation>();
        var validation = new List<Conversation>();
        foreach (var g in groups)
        {
            if (validation.Count < target && groups.Length > 1 && train.Count + validation.Count + g.Count <= usable.Count) validation.AddRange(g);
            else train.AddRange(g);
            if (train.Count == 0 && validation.Count >= usable.Count) break;
        }
        if (train.Count == 0) throw new EngineException("All the questions are the same, so none can be held back to measure the model. Add different questions.");
        return ([.. train.OrderBy(c => c.Row)], [.. validation.OrderBy(c => c.Row)]);
    }

    private List<Conversation> ReadConversations(CancellationToken ct)
    {
        var file = InstructionData.ReadFile(options.DataPath, options.Columns, ct);
        foreach (var p in file.Problems.Where(p => p.Severity != ProblemSeverity.Error)) Report(new TrainingMessage($"{p.Message} {p.Fix}"));
        if (file.Problems.FirstOrDefault(p => p.Severity == ProblemSeverity.Error) is { } error) throw new EngineException($"{error.Message} {error.Fix}");
        return [.. file.Conversations];
    }

    private void ReportReview(InstructionDataReview review)
    {
        foreach (var f in review.Findings.Where(f => f.Severity != ProblemSeverity.Error)) Report(new TrainingMessage($"{f.Message} {f.Fix}"));
        if (!review.CanTrain)
        {
            var error = review.Findings.First(f => f.Severity == ProblemSeverity.Error);
            throw new EngineException($"{error.Message} {error.Fix}");
        }
    }

    private (int? Language, int? Instruction) StepShares(string route)
    {
        if (options.MaxSteps is not { } total) return (null, null);
        if (route == "base") return (null, total);
        var language = Math.Clamp((int)Math.Round(total * options.LanguagePhaseShare), 1, total - 1);
        return (language, total - language);
    }

    private void TrainLanguagePhase(IReadOnlyList<Conversation> train, IReadOnlyList<Conversation> validation, int? steps, CancellationToken ct)
    {
        // The held-back conversations validate the language phase too, so it is never measured on what it trains on.
        static string Text(Conversation c) => string.Join("\n", c.Messages.Select(m => m.Content));
        var data = _folder.LanguageDataDirectory;
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "train.txt"), string.Join("\n\n", train.Select(Text)));
        File.WriteAllText(Path.Combine(data, "val.txt"), string.Join("\n\n", validation.Select(Text)));
        File.WriteAllText(Path.Combine(data, "dataset.json"), JsonSerializer.Serialize(new { kind = "instruction-texts", source = Path.GetFullPath(options.DataPath), train = train.Count, validation = validation.Count }, FileJson));
        var languageOptions = new TrainingOptions
        {
            DataPath = data,
            RunDirectory = _folder.LanguageRun.Root,
            Preset = options.Preset,
            MaxSteps = steps,
            Minutes = steps is null ? (options.Minutes ?? TrainingOptions.DefaultMinutes) * options.LanguagePhaseShare : null,
            Seed = options.Seed,
            VocabSize = options.VocabSize,
            EvalEvery = options.EvalEvery ?? TrainingOptions.DefaultEvalEvery,
            LogEvery = options.LogEvery,
            BatchSize = options.BatchSize,
            ContextLength = options.ContextLength,
            Device = options.Device,
            Precision = options.Precision,
            AddChatTokens = true,
        }.AsLanguagePhase();
        Report(new TrainingMessage("Learning the language of the questions and answers (predicting each next word)."));
        var finished = new Trainer(languageOptions, new Relay(this, holdFinished: false), _clock).Run(resume: false, ct);
        if (finished.Cancelled) throw new OperationCanceledException(ct);
    }

    /// <summary>
    /// Held-back questions up to the point where the model answers (the template's generation prompt), so the samples
    /// during training read "question → the model's answer" rather than a continuation of random text.
    /// </summary>
    private static IReadOnlyList<string> QuestionPrompts(InstructionTemplate template, IReadOnlyList<Conversation> validation) =>
        validation.Select(c => c.Messages.TakeWhile(m => m.Role != "assistant").ToList())
            .Where(turns => turns.Any(m => m.Role == "user"))
            .Take(RunPreparation.MaxSamplePrompts / 2)
            .Select(turns => template.Render(turns, true))
            .ToList();

    /// <summary>The rendered conversations as a dataset version: the instruction phase's trainer reads it for its text baseline and samples.</summary>
    private void WriteTextDataset(InstructionTemplate template, IReadOnlyList<Conversation> train, IReadOnlyList<Conversation> validation)
    {
        Directory.CreateDirectory(_folder.TextDirectory);
        File.WriteAllText(Path.Combine(_folder.TextDirectory, "train.txt"), string.Join("\n", train.Select(c => template.Render(c.Messages, false))));
        File.WriteAllText(Path.Combine(_folder.TextDirectory, "val.txt"), string.Join("\n", validation.Select(c => template.Render(c.Messages, false))));
        File.WriteAllText(Path.Combine(_folder.TextDirectory, "dataset.json"), JsonSerializer.Serialize(new { kind = "instruction-conversations", train = train.Count, validation = validation.Count }, FileJson));
    }

    private static void WritePairs(string path, IEnumerable<Conversation> conversations) =>
        AtomicFile.WriteAllText(path, string.Concat(conversations.Select(c => JsonSerializer.Serialize(new { messages = c.Messages.Select(m => new { role = m.Role, content = m.Content }), row = c.Row }) + "\n")));

    /// <summary>A model folder, or the trained model of a text run folder.</summary>
    private static string ResolveBaseModel(string path)
    {
        var run = RunFolder.At(path);
        if (File.Exists(Path.Combine(run.ModelDirectory, ModelFolder.ConfigFile))) return run.ModelDirectory;
        if (File.Exists(Path.Combine(path, ModelFolder.ConfigFile))) return path;
        throw new EngineException($"'{path}' is neither a model folder (config.json, model.safetensors, tokenizer.json) nor a training run with a finished model.");
    }

    private void Report(TrainingEvent e) => progress.Report(e);

    /// <summary>
    /// The phases' events to the caller: the language phase's own start and finish become messages (the run has one
    /// start and one finish), and the instruction phase's finish waits until the held-out answers are scored.
    /// </summary>
    private sealed class Relay(InstructionRun run, bool holdFinished) : IProgress<TrainingEvent>
    {
        private TrainingFinished? _held;

        public void Report(TrainingEvent value)
        {
            switch (value)
            {
                case TrainingFinished f when holdFinished:
                    _held = f;
                    return;
                case TrainingFinished f:
                    run.Report(new TrainingMessage(string.Create(CultureInfo.InvariantCulture,
                        $"The language phase finished after {f.Step:N0} steps: validation loss {f.BestValLoss:0.000} (a model that only counts words: {f.BaselineValLoss:0.000}).")));
                    return;
                case TrainingStarted or CheckpointSaved when !holdFinished:
                    return;
                default:
                    run.Report(value);
                    return;
            }
        }

        public void Release()
        {
            if (_held is not null) run.Report(_held);
            _held = null;
        }
    }
}

/// <summary>Greedy replies of a TorchSharp model in a chat template, cut at the end of the turn, template tokens never shown.</summary>
public sealed class TorchReply(LlamaForCausalLM model, ITokenizer tokenizer, InstructionTemplate template)
{
    private readonly IReadOnlyList<int> _endOfTurn = template.EndOfTurnIds(tokenizer);

    public string Answer(IReadOnlyList<ChatMessage> prompt, int maxNewTokens)
    {
        var ids = template.PromptIds(tokenizer, prompt);
        var room = model.Config.MaxPositions - ids.Length;
        if (room <= 0) return "";
        var generated = Generation.Greedy(model, ids, Math.Min(maxNewTokens, room), _endOfTurn.Count > 0 ? _endOfTurn[0] : null);
        var end = Array.FindIndex(generated, _endOfTurn.Contains);
        return ChatText.Clean(tokenizer.Decode(end >= 0 ? generated[..end] : generated), template);
    }
}

/// <summary>How a reply is shown: cut where the model starts another turn (plain-text template) and trimmed.</summary>
public static class ChatText
{
    public static string Clean(string text, InstructionTemplate template)
    {
        foreach (var stop in template.StopSequences)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0) text = text[..at];
        }
        return text.Trim();
    }
}
