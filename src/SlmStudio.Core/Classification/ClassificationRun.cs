using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Classification;

/// <summary>Everything a classification run ("Sort and route") is started with; unset values take the engine's defaults.</summary>
public sealed record ClassificationRunOptions
{
    public const string DefaultTextColumn = "text";
    public const string DefaultLabelColumn = "label";

    /// <summary>The share of the time (or steps) that a run from scratch spends learning the language of the texts.</summary>
    public const double DefaultLanguagePhaseShare = 0.35;

    /// <summary>Texts are cut to this many tokens when no context length is given (customer messages are far shorter).</summary>
    public const int DefaultMaxTokens = 128;

    public required string DataPath { get; init; }
    public required string RunDirectory { get; init; }
    public string TextColumn { get; init; } = DefaultTextColumn;
    public string LabelColumn { get; init; } = DefaultLabelColumn;
    public string Preset { get; init; } = TrainingOptions.DefaultPreset;
    /// <summary>Optimizer steps of the whole run (language and label phases together); null: the time budget decides.</summary>
    public int? MaxSteps { get; init; }
    public double? Minutes { get; init; }
    /// <summary>A model folder (or a text run folder) whose backbone the classifier starts from; no language phase then.</summary>
    public string? BaseModel { get; init; }
    /// <summary>With <see cref="BaseModel"/>: LoRA adapters on the frozen backbone, the label head trained fully; null: the whole model is trained.</summary>
    public LoraConfig? Lora { get; init; }
    public long Seed { get; init; } = TrainingOptions.DefaultSeed;
    public int VocabSize { get; init; } = TrainingOptions.DefaultVocabSize;
    public int? EvalEvery { get; init; }
    public int LogEvery { get; init; } = TrainingOptions.DefaultLogEvery;
    public int? BatchSize { get; init; }
    public int? ContextLength { get; init; }
    /// <summary>Peak learning rate of the label phase.</summary>
    public double? LearningRate { get; init; }
    public string Device { get; init; } = TrainingOptions.DefaultDevice;
    /// <summary>The number format of the language-model steps (<see cref="TrainingPrecision"/>).</summary>
    public string Precision { get; init; } = TrainingPrecision.Auto;
    public double LanguagePhaseShare { get; init; } = DefaultLanguagePhaseShare;
    public double ValidationFraction { get; init; } = TrainingOptions.DefaultValidationFraction;
    /// <summary>
    /// Against over-fitting to the training wordings (see <see cref="ClassifierTrainingOptions"/>); null: these defaults
    /// from scratch, none from a base model. On the 36-intent benchmark (bench/README.md), before word scores: test
    /// accuracy 73.7% without, 79.2% with token dropout 0.15, head dropout 0.1 and label smoothing 0.1 (two 8-minute runs
    /// side by side). With word scores and the bounded backbone, token dropout 0.3 got 83.3% words-only (0.15: 82.9%)
    /// and about 82% with the backbone (bench/ClassifierAblation). Not measured from a base model, so off there.
    /// </summary>
    public const double ScratchTokenDropout = 0.3, ScratchHeadDropout = 0.1, ScratchLabelSmoothing = 0.1;

    /// <summary>
    /// From scratch, the backbone may move a label's score by at most this much (<see cref="LlamaForSequenceClassification.BackboneBound"/>).
    /// Intent benchmark over four data seeds (bench/intent-benchmark.sh, one run each): 0.25 85.0% on average (new
    /// wordings 54.5%) against 84.0% (50.9%) at 0.5, higher on three seeds of four; the keyword model 86.7%.
    /// </summary>
    public const double ScratchBackboneBound = 0.25;

    public double? TokenDropout { get; init; }
    public double? LabelSmoothing { get; init; }
    public double? HeadDropout { get; init; }

    /// <summary>
    /// Word scores beside the backbone (<see cref="TokenPairs"/>) in this many buckets; 0: none. Null: <see
    /// cref="TokenPairs.DefaultBuckets"/> from scratch, none from a base model (not measured there, and LoRA trains
    /// only adapters and the head).
    /// </summary>
    public int? PairBuckets { get; init; }

    /// <summary>The bound on the backbone's logits; 0: none. Null: <see cref="ScratchBackboneBound"/> from scratch with word scores, none otherwise.</summary>
    public double? BackboneBound { get; init; }

    /// <summary>The options a classification run was started with (its run.json), to continue it.</summary>
    public static ClassificationRunOptions Load(string runDirectory)
    {
        var folder = ClassificationRunFolder.At(runDirectory);
        if (!File.Exists(folder.SettingsFile)) throw new EngineException($"'{runDirectory}' holds no classification run to continue (it has no run.json). Start one without --resume.");
        try
        {
            var settings = JsonNode.Parse(File.ReadAllText(folder.SettingsFile));
            if (settings?["task"]?.GetValue<string>() != ClassificationRunFolder.Task)
                throw new EngineException($"The run in '{runDirectory}' is not a classification run; continue it without --task classify.");
            return settings["options"].Deserialize<ClassificationRunOptions>(TrainingEvent.Json) is { } options
                ? options with { RunDirectory = folder.Root }
                : throw new EngineException($"The settings of the run in '{runDirectory}' are incomplete; it cannot be continued. Start it again in a new run folder.");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new EngineException($"The settings of the run in '{runDirectory}' are damaged ({e.Message}); it cannot be continued. Start it again in a new run folder.", e);
        }
    }
}

/// <summary>
/// The layout of a classification run folder: run.json (task "classify"), the frozen split in data/, the language phase
/// as a text run in language/, the classifier in classifier/ (config.json, model.safetensors, labels.json,
/// tokenizer.json; adapter/ in PEFT's layout when trained with LoRA), the keyword model in baseline.zip, the label
/// phase's checkpoint in checkpoint/ (for --resume), base-model.json (the lineage, when started from a base model),
/// metrics.jsonl, metrics.json and result.json.
/// </summary>
public sealed record ClassificationRunFolder(string Root)
{
    public const string Task = "classify";

    public static ClassificationRunFolder At(string path) => new(Path.GetFullPath(path));

    public RunFolder AsRun => new(Root);
    public string SettingsFile => AsRun.SettingsFile;
    public string CancelFile => AsRun.CancelFile;
    public string MetricsFile => AsRun.MetricsFile;
    public string ResultFile => AsRun.ResultFile;
    public string TrainDataFile => Path.Combine(Root, "data", "train.jsonl");
    public string ValidationDataFile => Path.Combine(Root, "data", "validation.jsonl");
    public string LanguageDataDirectory => Path.Combine(Root, "data", "language");
    public RunFolder LanguageRun => RunFolder.At(Path.Combine(Root, "language"));
    public string ClassifierDirectory => Path.Combine(Root, "classifier");
    public string BaselineFile => Path.Combine(Root, "baseline.zip");
    /// <summary>Per-label figures, confusions and calibration of both models on the validation texts.</summary>
    public string MetricsSummaryFile => Path.Combine(Root, "metrics.json");

    /// <summary>True when <paramref name="folder"/> holds a classification run (finished or not).</summary>
    public static bool IsClassificationRun(string folder)
    {
        var run = At(folder);
        if (File.Exists(Path.Combine(run.ClassifierDirectory, ClassifierFolder.LabelsFile))) return true;
        if (!File.Exists(run.SettingsFile)) return false;
        try { return JsonNode.Parse(File.ReadAllText(run.SettingsFile))?["task"]?.GetValue<string>() == Task; }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return false; }
    }
}

/// <summary>
/// Trains a "Sort and route" classifier end to end: reads and reviews the labelled rows, splits them by label, trains
/// the keyword baseline, then the model — from scratch (a short language phase on the texts with <see cref="Trainer"/>,
/// then the labels) or from a base model's backbone — and writes the classifier and both models' figures.
/// </summary>
public sealed class ClassificationRun(ClassificationRunOptions options, IProgress<ClassificationEvent> progress, TimeProvider? clock = null)
{
    private readonly ClassificationRunFolder _folder = ClassificationRunFolder.At(options.RunDirectory);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private static readonly JsonSerializerOptions FileJson = new(TrainingEvent.Json) { WriteIndented = true };

    public ClassificationFinished Run(CancellationToken cancellationToken) => Run(resume: false, cancellationToken);

    /// <param name="resume">
    /// Continue a run that was stopped or killed, from where it stands: the split, settings and keyword model as saved;
    /// the language phase from its checkpoint (or again when it has none); the label phase from its checkpoint.
    /// The options must be those the run was started with (<see cref="ClassificationRunOptions.Load"/>).
    /// </param>
    public ClassificationFinished Run(bool resume, CancellationToken cancellationToken)
    {
        var started = _clock.GetTimestamp();
        if (!resume && File.Exists(_folder.SettingsFile))
            throw new EngineException($"'{_folder.Root}' already holds a training run. Choose a new run folder, or continue it with --resume.");
        if (resume && !File.Exists(_folder.SettingsFile))
            throw new EngineException($"'{_folder.Root}' holds no classification run to continue. Start one without --resume.");
        if (resume && File.Exists(_folder.ResultFile))
            throw new EngineException($"The classification run in '{_folder.Root}' has already finished; there is nothing to continue. Export it, or train again in a new run folder.");
        if (options.MaxSteps is < 2) throw new EngineException("A classification run needs at least 2 steps.");
        var device = TorchDevice.Parse(options.Device);
        Directory.CreateDirectory(_folder.Root);
        // Held until the run ends or the process dies: a second trainer on the same folder is refused.
        using var claim = _folder.AsRun.LockForTrainer();
        File.Delete(_folder.CancelFile);

        LabelledSplit split;
        if (resume)
        {
            split = new LabelledSplit(ReadJsonl(_folder.TrainDataFile), ReadJsonl(_folder.ValidationDataFile));
            Report(new ClassificationMessage($"Continuing the classification run in {_folder.Root}."));
        }
        else
        {
            var (examples, frozen) = ReadExamples();
            var review = LabelledDataReview.Of(examples);
            foreach (var finding in review.Findings.Where(f => f.Severity != Data.ProblemSeverity.Error)) Report(new ClassificationMessage($"{finding.Message} {finding.Fix}"));
            if (!review.CanTrain)
            {
                var error = review.Findings.First(f => f.Severity == Data.ProblemSeverity.Error);
                throw new EngineException($"{error.Message} {error.Fix}");
            }

            // A frozen dataset version brings its own split (stratified by label when it was frozen): training and
            // validation texts stay exactly those recorded in its lineage.
            split = frozen ?? StratifiedSplit.Split(examples, options.ValidationFraction, checked((int)(options.Seed % int.MaxValue)));
        }
        if (split.Validation.Count == 0)
            throw new EngineException("No label has two or more examples, so none can be held back to measure the model. Add more examples of each label.");
        var labels = split.Train.Select(e => e.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var route = options.BaseModel is null ? "scratch" : "base";

        if (!resume)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_folder.TrainDataFile)!);
            WriteJsonl(_folder.TrainDataFile, split.Train);
            WriteJsonl(_folder.ValidationDataFile, split.Validation);
            AtomicFile.WriteAllText(_folder.SettingsFile, JsonSerializer.Serialize(new
            {
                task = ClassificationRunFolder.Task,
                route,
                options,
                labels,
                trainExamples = split.Train.Count,
                validationExamples = split.Validation.Count,
                createdAt = DateTimeOffset.UtcNow,
            }, FileJson));
            // The lineage as text runs record it: the base folder may be gone by the time the classifier is exported.
            if (options.BaseModel is { } lineageOf) Library.BaseModelLineage.Of(ResolveBaseModel(lineageOf), cancellationToken).Save(_folder.AsRun.BaseModelFile);
        }
        Report(new ClassificationStarted(ClassificationRunFolder.Task, route, labels, split.Train.Count, split.Validation.Count,
            device.type.ToString().ToLowerInvariant(), options.BaseModel));

        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // A CANCEL file in the run folder stops the run as it stops a text run (the language phase watches its own folder).
        using var cancelWatch = new Timer(_ =>
        {
            // A tick can still run while the run is ending and the source is disposed.
            try { if (File.Exists(_folder.CancelFile)) cancellation.Cancel(); }
            catch (ObjectDisposedException) { }
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var ct = cancellation.Token;

        KeywordBaseline baseline;
        if (resume && File.Exists(_folder.BaselineFile)) baseline = KeywordBaseline.Load(_folder.BaselineFile);
        else
        {
            Report(new ClassificationMessage("Training a simple keyword model on the same examples, to compare with."));
            baseline = KeywordBaseline.Train(split.Train, checked((int)(options.Seed % int.MaxValue)), ct);
            baseline.Save(_folder.BaselineFile);
        }
        var baselineMetrics = baseline.Evaluate(split.Validation);
        Report(new ClassificationMessage($"The keyword model gets {Percent(baselineMetrics.Accuracy)} of the validation texts right (macro-F1 {baselineMetrics.MacroF1:0.000})."));

        var (languageSteps, labelSteps) = StepShares(route);
        LlamaForSequenceClassification? model = null;
        try
        {
            ITokenizer tokenizer;
            int maxTokens;
            if (options.BaseModel is { } baseModel)
            {
                var folder = ResolveBaseModel(baseModel);
                Report(new ClassificationMessage($"Starting from the base model in {baseModel}: it already knows the language, so training goes straight to the labels."));
                var tokenizerPath = Path.Combine(folder, ModelFolder.TokenizerFile);
                if (!File.Exists(tokenizerPath)) throw new EngineException($"The base model folder '{baseModel}' has no tokenizer.json; a classifier cannot be trained on a model without its own tokenizer.");
                tokenizer = TokenizerFile.Load(tokenizerPath);
                var (languageModel, config) = ModelFolder.Load(folder);
                using (languageModel) model = NewClassifier(config, labels, languageModel, options.PairBuckets ?? 0, options.BackboneBound ?? 0, tokenizer);
                maxTokens = Math.Min(options.ContextLength ?? ClassificationRunOptions.DefaultMaxTokens, config.MaxPositions);
            }
            else
            {
                Report(new ClassificationMessage(
                    $"No base model was given, so the model first learns the language of your {split.Train.Count:N0} training texts " +
                    $"({(options.MaxSteps is null ? "about " + Percent(options.LanguagePhaseShare) + " of the time" : $"{languageSteps} steps")}), then learns the labels."));
                var languageRun = TrainLanguagePhase(split, languageSteps, resume, ct);
                tokenizer = TokenizerFile.Load(_folder.LanguageRun.TokenizerFile);
                var (languageModel, config) = ModelFolder.Load(_folder.LanguageRun.ModelDirectory);
                using (languageModel) model = NewClassifier(config, labels, languageModel, options.PairBuckets ?? TokenPairs.DefaultBuckets,
                    options.BackboneBound ?? (options.PairBuckets is 0 ? 0 : ClassificationRunOptions.ScratchBackboneBound), tokenizer);
                maxTokens = Math.Min(options.ContextLength ?? languageRun.ContextLength, config.MaxPositions);
            }
            model.to(device);
            if (options.Lora is not null && options.BaseModel is null)
                throw new EngineException("LoRA adapts an existing model: give a base model, or leave LoRA out to train the classifier from scratch.");
            if (options.Lora is not null && model.PairBuckets > 0)
                throw new EngineException("Word scores cannot be trained with LoRA (it trains only the adapters and the label head): leave out the word buckets, or train without LoRA.");
            using var adapters = options.Lora is { } lora ? LoraAdapters.Inject(model, model.Config, lora) : null;
            if (adapters is not null)
                foreach (var (name, p) in model.named_parameters())
                    if (name.StartsWith(LoraAdapters.ClassifierHead + ".", StringComparison.Ordinal)) p.requires_grad = true; // the new head learns in full

            var train = ClassifierTrainer.Tokenize(tokenizer, split.Train, labels, maxTokens);
            var validation = ClassifierTrainer.Tokenize(tokenizer, split.Validation, labels, maxTokens);
            if (train.Count == 0 || validation.Count == 0) throw new EngineException("None of the texts has any tokens the model can read.");
            var elapsedSoFar = _clock.GetElapsedTime(started);
            var labelCheckpoint = _folder.AsRun.CheckpointFile;
            var resumeLabels = resume && File.Exists(labelCheckpoint);
            // A run continued before its label phase does not know how long its first part took: the label phase then
            // gets its share of the budget.
            if (resume && route == "scratch") elapsedSoFar = TimeSpan.FromMinutes((options.Minutes ?? TrainingOptions.DefaultMinutes) * options.LanguagePhaseShare);
            else if (resume) elapsedSoFar = TimeSpan.Zero;
            var remaining = options.MaxSteps is null ? TimeSpan.FromMinutes(options.Minutes ?? TrainingOptions.DefaultMinutes) - elapsedSoFar : (TimeSpan?)null;
            if (remaining is { } r && r < TimeSpan.FromSeconds(10)) remaining = TimeSpan.FromSeconds(10);
            var trainerOptions = new ClassifierTrainingOptions
            {
                BatchSize = options.BatchSize ?? 32,
                MaxSteps = labelSteps ?? 100_000,
                TimeBudget = remaining,
                LearningRate = options.LearningRate ?? (route == "base" ? (options.Lora is null ? RunPreparation.FineTuningLearningRate : RunPreparation.LoraLearningRate) : 1e-3),
                EvaluateEvery = options.EvalEvery ?? (labelSteps is { } s ? Math.Clamp(s / 5, 1, 50) : 50),
                Seed = options.Seed,
                CheckpointFile = labelCheckpoint,
            };
            trainerOptions = trainerOptions with
            {
                TokenDropout = options.TokenDropout ?? (route == "scratch" ? ClassificationRunOptions.ScratchTokenDropout : trainerOptions.TokenDropout),
                LabelSmoothing = options.LabelSmoothing ?? (route == "scratch" ? ClassificationRunOptions.ScratchLabelSmoothing : trainerOptions.LabelSmoothing),
                HeadDropout = options.HeadDropout ?? (route == "scratch" ? ClassificationRunOptions.ScratchHeadDropout : trainerOptions.HeadDropout),
            };
            Report(new ClassificationPhase(ClassificationEvent.LabelPhase,
                $"Learning the {labels.Count} labels from {train.Count:N0} examples (checked on {validation.Count:N0} held-out examples).",
                model.parameters().Sum(p => p.numel()), labelSteps));
            var trainer = new ClassifierTrainer(trainerOptions, _clock);
            double lossSum = 0;
            int lossCount = 0;
            trainer.Stepped += s =>
            {
                lossSum += s.Loss;
                lossCount++;
                if (s.Step % options.LogEvery != 0 && s.Step != s.MaxSteps) return;
                Report(new ClassificationStepEvent(ClassificationEvent.LabelPhase, s.Step, s.MaxSteps, lossSum / lossCount, s.LearningRate, _clock.GetElapsedTime(started).TotalSeconds));
                (lossSum, lossCount) = (0, 0);
            };
            trainer.Evaluated += e => Report(new ClassificationEval(ClassificationEvent.LabelPhase, e.Step, e.TrainLoss, e.ValidationLoss, e.Validation.Accuracy, e.Validation.MacroF1));
            trainer.CheckpointSaved += step => Report(new ClassificationCheckpointSaved(ClassificationEvent.LabelPhase, step));
            if (resumeLabels) Report(new ClassificationMessage("Continuing the label phase from its checkpoint."));
            ClassifierTrainingResult result;
            try { result = trainer.Train(model, train, validation, ct, adapters?.NamedParameters(), resumeLabels); }
            catch (OperationCanceledException)
            {
                Report(new ClassificationMessage("Training was stopped. A checkpoint was kept: continue with slm train --resume --out <this run folder>."));
                throw;
            }
            Report(new ClassificationMessage(result.StoppedBecause switch
            {
                ClassifierStopReason.EarlyStopping => $"Stopped at step {result.Steps}: the validation score had not improved for a while. Keeping the best model (step {result.BestStep}).",
                ClassifierStopReason.TimeBudget => $"The time budget was used up at step {result.Steps}. Keeping the best model (step {result.BestStep}).",
                _ => $"Finished {result.Steps} steps. Keeping the best model (step {result.BestStep}).",
            }));

            if (adapters is not null)
            {
                // The adapter on its own (with the head PEFT calls a module to save), then merged: the folder's model is a plain classifier.
                adapters.SavePeft(Path.Combine(_folder.ClassifierDirectory, LoraAdapters.FolderName), Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.BaseModel!))),
                    "SEQ_CLS", model.named_parameters().Where(p => p.name.StartsWith(LoraAdapters.ClassifierHead + ".", StringComparison.Ordinal)).ToList());
                adapters.MergeIntoBase();
            }
            model.Temperature = ClassifierTrainer.FitTemperature(model, validation);
            Report(new ClassificationMessage(string.Create(CultureInfo.InvariantCulture,
                $"Confidence tuned on the held-out examples, so that the model's percentages match how often it is right (temperature {model.Temperature:0.00}).")));
            ClassifierFolder.Save(model, tokenizer, _folder.ClassifierDirectory, maxTokens);
            var metrics = ClassifierTrainer.Evaluate(model, validation);
            var summary = Summary(metrics, baselineMetrics, labels.Count, split.Train.Count, route, _clock.GetElapsedTime(started));
            AtomicFile.WriteAllText(_folder.MetricsSummaryFile, JsonSerializer.Serialize(new
            {
                summary,
                route,
                labels,
                trainExamples = train.Count,
                validationExamples = validation.Count,
                model = metrics,
                baseline = baselineMetrics,
                calibration = metrics.Calibration.Summary(),
            }, FileJson));
            var finished = new ClassificationFinished(metrics.Accuracy, metrics.MacroF1, baselineMetrics.Accuracy, baselineMetrics.MacroF1,
                _folder.ClassifierDirectory, _folder.BaselineFile, summary, result.Steps, result.BestStep, result.StoppedBecause.ToString(),
                _clock.GetElapsedTime(started).TotalSeconds);
            AtomicFile.WriteAllText(_folder.ResultFile, finished.ToJsonLine());
            Report(new ClassificationMessage(summary));
            Report(finished);
            return finished;
        }
        finally
        {
            model?.Dispose();
        }
    }

    /// <summary>
    /// "Your model: 91.2% correct. A simple keyword model: 87.5%." and, when the keyword model wins, the likely reason.
    /// </summary>
    public static string Summary(ClassificationMetrics model, ClassificationMetrics baseline, int labelCount, int trainExamples, string route, TimeSpan elapsed)
    {
        var text = $"Your model: {Percent1(model.Accuracy)} correct. A simple keyword model: {Percent1(baseline.Accuracy)}.";
        if (baseline.Accuracy <= model.Accuracy) return text;
        var perLabel = trainExamples / Math.Max(1, labelCount);
        var reasons = new List<string>();
        if (perLabel < 100) reasons.Add($"there are only about {perLabel:N0} examples per label, and a simple keyword model needs fewer examples than a language model to pick up the telling words");
        if (route == "scratch" && elapsed < TimeSpan.FromMinutes(15)) reasons.Add($"the training was short ({elapsed.TotalMinutes:0.#} minute{(Math.Round(elapsed.TotalMinutes, 1) == 1 ? "" : "s")}) for a model that starts from nothing");
        if (reasons.Count == 0) reasons.Add("the labels seem to depend mostly on single telling words, which is exactly what a keyword model looks for");
        return $"{text} The simple keyword model did better this time, probably because {string.Join(", and ", reasons)}. " +
               "Add more examples per label or train for longer (or start from a base model). The keyword model is a yardstick only: it cannot be exported or used in the playground.";
    }

    /// <summary>The labelled rows, and the split when <see cref="ClassificationRunOptions.DataPath"/> is a frozen dataset version.</summary>
    private (IReadOnlyList<LabelledExample> Examples, LabelledSplit? Frozen) ReadExamples()
    {
        var path = options.DataPath;
        if (Directory.Exists(path))
        {
            if (!File.Exists(Path.Combine(path, Data.DatasetVersion.ManifestName)))
                throw new EngineException($"'{path}' is a folder. For sorting texts into labels, give one CSV or JSONL file with a text column and a label column, or a frozen dataset version.");
            return ReadDatasetVersion(path);
        }
        if (!File.Exists(path)) throw new EngineException($"The data file '{path}' does not exist.");
        return (ReadLabelled(path, Path.GetFileName(path), options.TextColumn, options.LabelColumn), null);
    }

    private IReadOnlyList<LabelledExample> ReadLabelled(string path, string name, string textColumn, string labelColumn)
    {
        var file = LabelledData.ReadFile(path, name, textColumn, labelColumn);
        foreach (var p in file.Problems.Where(p => p.Severity != Data.ProblemSeverity.Error)) Report(new ClassificationMessage($"{p.Message} {p.Fix}"));
        if (file.Problems.FirstOrDefault(p => p.Severity == Data.ProblemSeverity.Error) is { } error) throw new EngineException($"{error.Message} {error.Fix}");
        return file.Examples;
    }

    /// <summary>
    /// A dataset version frozen for classification keeps its rows as train.jsonl and val.jsonl with "text" and "label";
    /// its files are checked against their recorded hashes before they are read.
    /// </summary>
    private (IReadOnlyList<LabelledExample>, LabelledSplit) ReadDatasetVersion(string folder)
    {
        var version = Data.DatasetVersion.Load(folder);
        if (version.Task != Data.DatasetTask.Classification)
            throw new EngineException($"The dataset version in '{folder}' was frozen for {version.Task} data, not for sorting texts into labels. Freeze the data again with a label column.");
        if (!version.Verify())
            throw new EngineException($"The files of the dataset version in '{folder}' were changed after it was frozen. Freeze the data again.");
        const string text = "text", label = "label";
        var train = ReadLabelled(Path.Combine(folder, "train.jsonl"), "train.jsonl", text, label);
        var validation = ReadLabelled(Path.Combine(folder, "val.jsonl"), "val.jsonl", text, label);
        return ([.. train, .. validation], new LabelledSplit([.. train.Where(e => e.IsUsable)], [.. validation.Where(e => e.IsUsable)]));
    }

    /// <summary>Steps of the language and label phases when a step count is given; null when the time budget decides.</summary>
    private (int? Language, int? Labels) StepShares(string route)
    {
        if (options.MaxSteps is not { } total) return (null, null);
        if (route == "base") return (null, total);
        var language = Math.Clamp((int)Math.Round(total * options.LanguagePhaseShare), 1, total - 1);
        return (language, total - language);
    }

    private RunSettings TrainLanguagePhase(LabelledSplit split, int? steps, bool resume, CancellationToken ct)
    {
        var language = _folder.LanguageRun;
        if (resume && File.Exists(language.ResultFile))
        {
            Report(new ClassificationMessage("The language phase had already finished; going on with the labels."));
            return RunPreparation.Load(language).Settings;
        }
        if (resume && File.Exists(language.CheckpointFile) && File.Exists(language.SettingsFile))
        {
            Report(new ClassificationPhase(ClassificationEvent.LanguagePhase, "Continuing to learn the language of the texts from the last checkpoint.", null, steps));
            var resumed = new Trainer(new TrainingOptions { DataPath = _folder.LanguageDataDirectory, RunDirectory = language.Root, Seed = options.Seed, Device = options.Device }, new LanguageProgress(this)).Run(resume: true, ct);
            if (resumed.Cancelled) throw new OperationCanceledException(ct);
            return RunPreparation.Load(language).Settings;
        }
        // Stopped before the language phase kept anything: it starts again.
        if (Directory.Exists(language.Root)) Directory.Delete(language.Root, recursive: true);

        // The texts as a frozen dataset version (dataset.json, train.txt, val.txt): the language phase is validated on the
        // held-out texts of the labelled split, never on texts the label phase trains on.
        var data = _folder.LanguageDataDirectory;
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "train.txt"), string.Join("\n", split.Train.Select(e => e.Text)));
        File.WriteAllText(Path.Combine(data, "val.txt"), string.Join("\n", split.Validation.Select(e => e.Text)));
        File.WriteAllText(Path.Combine(data, "dataset.json"), JsonSerializer.Serialize(new { kind = "classification-texts", source = Path.GetFullPath(options.DataPath), train = split.Train.Count, validation = split.Validation.Count }, FileJson));

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
            // "REFUND", "Refund" and "refund" tell the same label; with one token for all three, what a message in capitals
            // learns counts for the others. The keyword model lower-cases too. Intent benchmark, four data seeds, one run
            // each (bench/intent-benchmark.sh): 84.0% against 83.3% on average, none lower; small, within a run's noise.
            LowercaseTokenizer = true,
        }.AsLanguagePhase();
        Report(new ClassificationPhase(ClassificationEvent.LanguagePhase, "Learning the language of the texts (predicting each next word), without the labels.", null, steps));
        var finished = new Trainer(languageOptions, new LanguageProgress(this)).Run(resume: false, ct);
        if (finished.Cancelled) throw new OperationCanceledException(ct);
        return RunPreparation.Load(_folder.LanguageRun).Settings;
    }

    private LlamaForSequenceClassification NewClassifier(LlamaConfig config, IReadOnlyList<string> labels, LlamaForCausalLM languageModel, int pairBuckets, double backboneBound, ITokenizer tokenizer)
    {
        // A base model's embedding matrix can have more rows than its tokenizer has tokens: those rows get no letter groups.
        var model = new LlamaForSequenceClassification(config, labels, pairBuckets: pairBuckets,
            spelling: pairBuckets > 0 && tokenizer.VocabSize <= config.VocabSize ? TokenSpelling.Of(tokenizer, vocabSize: config.VocabSize) : null, backboneBound: backboneBound);
        model.InitializeWeights(options.Seed);
        model.LoadBackbone(languageModel);
        return model;
    }

    /// <summary>A model folder, or the trained model of a text run folder.</summary>
    private static string ResolveBaseModel(string path)
    {
        var run = RunFolder.At(path);
        if (File.Exists(Path.Combine(run.ModelDirectory, ModelFolder.ConfigFile))) return run.ModelDirectory;
        if (File.Exists(Path.Combine(path, ModelFolder.ConfigFile))) return path;
        throw new EngineException($"'{path}' is neither a model folder (config.json, model.safetensors, tokenizer.json) nor a training run with a finished model.");
    }

    private static List<LabelledExample> ReadJsonl(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"The run's saved examples ({path}) are missing; it cannot be continued. Start it again in a new run folder.");
        return [.. File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<SavedExample>(l) is { } e
            ? new LabelledExample(e.text, e.label, e.row)
            : throw new EngineException($"The run's saved examples ({path}) are damaged; it cannot be continued. Start it again in a new run folder."))];
    }

#pragma warning disable IDE1006 // the names of the saved JSON
    private sealed record SavedExample(string text, string label, int row);
#pragma warning restore IDE1006

    private static void WriteJsonl(string path, IEnumerable<LabelledExample> examples) =>
        AtomicFile.WriteAllText(path, string.Concat(examples.Select(e => JsonSerializer.Serialize(new { text = e.Text, label = e.Label, row = e.Row }) + "\n")));

    private static string Percent(double x) => $"{Math.Round(x * 100).ToString(CultureInfo.InvariantCulture)}%";

    private static string Percent1(double x) => (x * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private bool _metricsUnwritable;

    private void Report(ClassificationEvent e)
    {
        if (!_metricsUnwritable)
        {
            try
            {
                Directory.CreateDirectory(_folder.Root);
                File.AppendAllText(_folder.MetricsFile, e.ToJsonLine() + "\n");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _metricsUnwritable = true;
                progress.Report(new ClassificationMessage($"Progress can no longer be written to {_folder.MetricsFile} ({ex.Message}); training continues."));
            }
        }
        progress.Report(e);
    }

    /// <summary>The language phase's events as classification events of phase "language".</summary>
    private sealed class LanguageProgress(ClassificationRun run) : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value)
        {
            ClassificationEvent? e = value switch
            {
                TrainingStep s => new ClassificationStepEvent(ClassificationEvent.LanguagePhase, s.Step, s.MaxSteps, s.Loss, s.Lr, s.ElapsedSeconds),
                EvaluationResult r => new ClassificationEval(ClassificationEvent.LanguagePhase, r.Step, r.TrainLoss, r.ValLoss),
                TrainingMessage m => new ClassificationMessage(m.Text),
                TrainingFinished f => new ClassificationMessage(string.Create(CultureInfo.InvariantCulture,
                    $"The language phase finished after {f.Step:N0} steps: validation loss {f.BestValLoss:0.000} (a model that only counts words: {f.BaselineValLoss:0.000}).")),
                _ => null, // started and checkpoint lines belong to the inner run's own metrics.jsonl
            };
            if (e is not null) run.Report(e);
        }
    }
}
