using System.Text.Json;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>
/// Everything before the first step: reads the text, trains (or takes the base model's) tokenizer, resolves the preset
/// (auto, a named one, or the base model's shape), writes the token files and run.json. A resumed run only reads them.
/// </summary>
public sealed class RunPreparation(TrainingOptions options, RunFolder folder, Action<TrainingEvent> report)
{
    /// <summary>The preset name run.json records for a fine-tuned base model.</summary>
    public const string BaseModelPreset = "base";
    /// <summary>Peak learning rate for fine-tuning: a base model is already trained, so it takes smaller steps.</summary>
    public const double FineTuningLearningRate = 3e-4;
    /// <summary>Adapters start at zero and have few parameters: they take a larger step than full fine-tuning (PEFT examples use 1e-4 to 2e-3).</summary>
    public const double LoraLearningRate = 1e-3;

    private static readonly JsonSerializerOptions SettingsJson = new(TrainingEvent.Json) { WriteIndented = true };

    public static (RunSettings Settings, ITokenizer Tokenizer) Load(RunFolder folder)
    {
        if (!File.Exists(folder.SettingsFile)) throw new EngineException($"'{folder.Root}' holds no run to resume (run.json is missing). Start it without --resume.");
        RunSettings settings;
        try { settings = JsonSerializer.Deserialize<RunSettings>(File.ReadAllText(folder.SettingsFile), TrainingEvent.Json)!; }
        catch (JsonException e) { throw new EngineException($"The run settings (run.json) are damaged and the run cannot be resumed ({e.Message}).", e); }
        return (settings, TokenizerFile.Load(folder.TokenizerFile));
    }

    /// <param name="stepType">The number format of the training steps (<see cref="TrainingPrecision"/>): the speed the preset is chosen by is measured in it.</param>
    public (RunSettings Settings, ITokenizer Tokenizer) Prepare(Device device, ScalarType stepType, CancellationToken cancellationToken)
    {
        if (File.Exists(folder.SettingsFile))
            throw new EngineException($"'{folder.Root}' already holds a training run. Use --resume to continue it, or choose a new run folder.");
        var corpus = TextCorpus.Load(options.DataPath, options.ValidationFraction);
        Directory.CreateDirectory(folder.Root);

        var (tokenizer, baseConfig) = LoadOrTrainTokenizer(corpus, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        tokenizer.Save(folder.TokenizerFile);

        var trainIds = DocumentStream.Encode(tokenizer, corpus.TrainDocuments).ToList();
        var valIds = DocumentStream.Encode(tokenizer, corpus.ValidationDocuments).ToList();
        var vocab = baseConfig?.VocabSize ?? tokenizer.VocabSize;
        var (preset, measuredTokensPerSecond) = baseConfig is null ? ResolvePreset(trainIds.Count, vocab, device, stepType) : (null, 0);

        var config = baseConfig ?? preset!.ConfigFor(vocab, tokenizer.BosId, tokenizer.EosId, tokenizer.PadId);
        var context = options.ContextLength ?? preset?.ContextLength ?? Math.Min(config.MaxPositions, 256);
        CheckEnoughText(corpus, trainIds.Count, valIds.Count, context, config.MaxPositions);

        Directory.CreateDirectory(Path.GetDirectoryName(folder.TrainTokensFile)!);
        TokenBin.Write(folder.TrainTokensFile, trainIds, vocab);
        TokenBin.Write(folder.ValidationTokensFile, valIds, vocab);
        var (batch, learningRate) = (preset?.BatchSize ?? 8, preset?.LearningRate ?? (options.Lora is null ? FineTuningLearningRate : LoraLearningRate));
        // Speed is measured for the auto preset; then a time budget too short for the preset's batch gets a smaller one.
        if (preset is not null && options.BatchSize is null && measuredTokensPerSecond > 0 && TimeBudget.SecondsFor(options) is { } seconds)
        {
            var fitted = PresetSelector.BatchForBudget(preset, context, measuredTokensPerSecond, seconds);
            if (fitted.BatchSize < batch)
                report(new TrainingMessage($"Using batches of {fitted.BatchSize} instead of {batch} sequences, so that the run gets enough steps in its time on this machine."));
            (batch, learningRate) = fitted;
        }
        var settings = new RunSettings(options, preset?.Name ?? BaseModelPreset, config, options.BatchSize ?? batch, context,
            options.LearningRate ?? learningRate,
            trainIds.Count, valIds.Count, corpus.TrainCharacters, corpus.ValidationCharacters,
            ChooseSamplePrompts(options.SamplePrompts, corpus.ValidationDocuments), corpus.SourceFiles, DateTimeOffset.UtcNow,
            Evaluation.UnigramBaselineLoss(trainIds, valIds, vocab));
        AtomicFile.WriteAllText(folder.SettingsFile, JsonSerializer.Serialize(settings, SettingsJson));
        return (settings, tokenizer);
    }

    private (ITokenizer, LlamaConfig?) LoadOrTrainTokenizer(TextCorpus corpus, CancellationToken cancellationToken)
    {
        if (options.BaseModel is not { } baseModel)
        {
            var fromData = options.VocabSize == TrainingOptions.VocabFromData;
            var vocabSize = fromData ? Verdicts.TrainingAdvice.VocabularyFor(corpus.TrainCharacters) : options.VocabSize;
            report(new TrainingMessage($"Training a {vocabSize:N0}-token tokenizer on {corpus.TrainCharacters:N0} characters{(fromData ? " (a size that suits this much text)" : "")}."));
            return (options.AddChatTokens ? Instruction.ChatVocabulary.Train(vocabSize, corpus.TrainDocuments, cancellationToken)
                : new BpeTrainer(vocabSize, lowercase: options.LowercaseTokenizer).Train(corpus.TrainDocuments, cancellationToken), null);
        }
        var baseConfig = LlamaConfig.Load(Path.Combine(baseModel, ModelFolder.ConfigFile));
        var baseTokenizer = Path.Combine(baseModel, ModelFolder.TokenizerFile);
        if (!File.Exists(baseTokenizer)) throw new EngineException($"The base model folder '{baseModel}' has no tokenizer.json; a model cannot be fine-tuned without its own tokenizer.");
        report(new TrainingMessage($"Fine-tuning {baseConfig.ParameterCount:N0}-parameter base model with its own tokenizer."));
        return (TokenizerFile.Load(baseTokenizer), baseConfig);
    }

    /// <summary>A named preset, or for "auto" the one that should reach the lowest loss with this data in this time.</summary>
    private (ModelPreset Preset, double TokensPerSecond) ResolvePreset(long trainTokens, int vocab, Device device, ScalarType stepType)
    {
        if (!string.Equals(options.Preset, ModelPresets.Auto, StringComparison.OrdinalIgnoreCase)) return (ModelPresets.Get(options.Preset), 0);
        // With a fixed step count the tokens each preset would see are known; with a time budget they are measured.
        var choice = options.MaxSteps is { } steps
            ? PresetSelector.Choose(trainTokens, 1, vocab, device, p => (double)steps * (options.BatchSize ?? p.BatchSize) * (options.ContextLength ?? p.ContextLength) * options.GradientAccumulation)
            : PresetSelector.Choose(trainTokens, TimeBudget.SecondsFor(options)!.Value, vocab, device, stepType: stepType);
        report(new TrainingMessage(choice.Reason));
        return (choice.Preset, options.MaxSteps is null ? choice.TokensPerSecond : 0);
    }

    private void CheckEnoughText(TextCorpus corpus, int trainTokens, int validationTokens, int context, int maxPositions)
    {
        if (context > maxPositions) throw new EngineException($"The context length {context} is longer than the model supports ({maxPositions}).");
        if (trainTokens < context + 1)
        {
            var charsPerToken = (double)corpus.TrainCharacters / Math.Max(1, trainTokens);
            throw new EngineException($"The training text is too short: it has {trainTokens:N0} tokens, but the model reads {context} tokens at a time. " +
                                      $"Add more text (at least about {(int)Math.Ceiling((context + 1 - trainTokens) * charsPerToken / (1 - options.ValidationFraction)):N0} more characters) or choose a shorter context length.");
        }
        if (validationTokens < 2) throw new EngineException("The validation part of the text is too short to measure the model. Add more text.");
    }

    /// <summary>At most this many goal prompts are sampled at each evaluation: sampling is part of the time budget.</summary>
    public const int MaxSamplePrompts = 4;

    /// <summary>The user's own prompts (goal tests) when there are any; else the opening words of two validation documents.</summary>
    public static IReadOnlyList<string> ChooseSamplePrompts(IReadOnlyList<string>? given, IReadOnlyList<string> validationDocuments)
    {
        var prompts = (given ?? []).Select(p => p.Trim()).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).Take(MaxSamplePrompts).ToList();
        return prompts.Count > 0 ? prompts : SamplePrompts(validationDocuments);
    }

    /// <summary>The first few words of two validation documents: the model's samples continue real text.</summary>
    private static IReadOnlyList<string> SamplePrompts(IReadOnlyList<string> documents)
    {
        var prompts = new List<string>();
        foreach (var doc in documents.Concat(documents.Select(d => d[(d.Length / 2)..])))
        {
            var words = doc.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries).Take(4).ToArray();
            if (words.Length > 0) prompts.Add(string.Join(' ', words));
            if (prompts.Count == 2) break;
        }
        return prompts;
    }
}
