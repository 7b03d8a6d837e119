using System.Diagnostics;
using System.Text.Json;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Training;

/// <summary>The settings a run was started with, as resolved (preset chosen, schedule fixed): run.json.</summary>
public sealed record RunSettings(
    TrainingOptions Options, string Preset, LlamaConfig Config, int BatchSize, int ContextLength, double PeakLearningRate,
    long TrainTokens, long ValidationTokens, long TrainCharacters, long ValidationCharacters, IReadOnlyList<string> SamplePrompts,
    IReadOnlyList<string> SourceFiles, DateTimeOffset CreatedAt, double BaselineValLoss);

/// <summary>
/// Trains one run in a run folder: prepares tokens, picks the model, then steps AdamW with a warmup + cosine schedule,
/// evaluating, sampling and checkpointing as it goes. Progress goes to <see cref="IProgress{T}"/>; cancellation (token
/// or a CANCEL file in the run folder) stops within a step and leaves a resumable checkpoint.
/// </summary>
public sealed class Trainer(TrainingOptions options, IProgress<TrainingEvent> progress)
{
    private const int MaxEvalWindows = 64;
    private readonly RunFolder _folder = RunFolder.At(options.RunDirectory);

    public TrainingFinished Run(bool resume, CancellationToken cancellationToken)
    {
        var device = TorchDevice.Parse(options.Device);
        var (settings, tokenizer) = resume ? LoadRun() : PrepareRun(device, cancellationToken);
        File.Delete(_folder.CancelFile);

        var config = settings.Config;
        manual_seed(options.Seed);
        using var model = new LlamaForCausalLM(config);
        if (settings.Options.BaseModel is { } baseModel && !resume)
            ModelFolder.LoadWeights(model, SafetensorsFile.Read(Path.Combine(baseModel, ModelFolder.WeightsFile)), "the base model");
        else model.InitializeWeights(settings.Options.Seed);
        model.to(device);
        model.train();
        using var optimizer = new AdamW(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), settings.Options.WeightDecay);
        using var trainTokens = TokenBin.Open(_folder.TrainTokensFile, config.VocabSize);
        using var valTokens = TokenBin.Open(_folder.ValidationTokensFile, config.VocabSize);
        var batches = new Batches(trainTokens, settings.BatchSize, settings.ContextLength, settings.Options.Seed, device);
        var valWindows = Evaluation.Windows(valTokens.Count, settings.ContextLength, MaxEvalWindows);
        var charsPerToken = (double)settings.ValidationCharacters / Math.Max(1, settings.ValidationTokens);
        var tokensPerStep = (long)settings.BatchSize * settings.ContextLength * settings.Options.GradientAccumulation;

        var state = resume
            ? Checkpoint.Load(_folder, model, optimizer)
            : new CheckpointState(0, settings.Options.MaxSteps ?? 0, 0, settings.PeakLearningRate, 0, double.PositiveInfinity, 0, 0, settings.Options.Seed);
        var budgetSeconds = settings.Options.MaxSteps is null ? (settings.Options.Minutes ?? TrainingOptions.DefaultMinutes) * 60 : (double?)null;
        var warmup = state.WarmupSteps > 0 ? state.WarmupSteps : settings.Options.WarmupSteps ?? DefaultWarmup(settings.Options.MaxSteps, settings.Options.BaseModel is not null);
        var maxSteps = state.MaxSteps > 0 ? state.MaxSteps : int.MaxValue; // decided after measuring speed when a time budget is set

        Report(new TrainingStarted(settings.Preset, config.ParameterCount, state.MaxSteps, state.Step, device.type.ToString().ToLowerInvariant(),
            config.VocabSize, settings.ContextLength, settings.BatchSize, settings.TrainTokens, settings.ValidationTokens,
            settings.PeakLearningRate, settings.Options.BaseModel, settings.BaselineValLoss));

        var clock = Stopwatch.StartNew();
        var elapsedBefore = state.ElapsedSeconds;
        var bestValLoss = state.BestValLoss;
        var tokensSeen = state.TokensSeen;
        var step = state.Step;
        using var runningLoss = zeros(1, device: device);
        var intervalSteps = 0;
        var intervalClock = Stopwatch.StartNew();
        double secondsPerStep = 0;
        EvaluationResult? lastEval = null;
        var cancelled = false;
        var parameters = model.parameters().ToArray();
        const int probeSteps = 4;
        double trainSeconds = 0, trainSecondsAtProbe = 0;
        var stepAtProbe = 0;
        var recalibrated = state.MaxSteps > 0; // a resumed run keeps the schedule it fixed

        while (step < maxSteps)
        {
            if (cancellationToken.IsCancellationRequested || File.Exists(_folder.CancelFile)) { cancelled = true; break; }
            if (budgetSeconds is { } budget && elapsedBefore + clock.Elapsed.TotalSeconds > budget * 1.05 && state.MaxSteps > 0)
            {
                Report(new TrainingMessage($"The time budget was used up at step {step} of {maxSteps}; finishing now."));
                break;
            }
            var schedule = new LearningRateSchedule(settings.PeakLearningRate, warmup, maxSteps == int.MaxValue ? 1_000_000 : maxSteps, settings.Options.MinLearningRateFraction);
            var lr = schedule.At(step);
            var stepStart = Stopwatch.GetTimestamp();
            TrainStep(model, optimizer, batches, parameters, step, lr, runningLoss, settings.Options.GradientAccumulation, settings.Options.GradientClip);
            trainSeconds += Stopwatch.GetElapsedTime(stepStart).TotalSeconds;
            step++;
            tokensSeen += tokensPerStep;
            intervalSteps++;

            if (budgetSeconds is { } budgetTotal && (maxSteps == int.MaxValue ? step == state.Step + probeSteps : !recalibrated && clock.Elapsed.TotalSeconds >= 0.1 * budgetTotal))
            {
                // Time budget: measured speed fixes the schedule so that it ends in time. It is measured twice — over
                // the first steps, then again at a tenth of the budget — because a machine busy with other work
                // at the start would otherwise leave most of the budget unused.
                var first = maxSteps == int.MaxValue;
                var measured = first ? trainSeconds / (step - state.Step) : (trainSeconds - trainSecondsAtProbe) / (step - stepAtProbe);
                var evalSeconds = measured / 3 * Math.Ceiling(valWindows.Count / (double)settings.BatchSize) + 0.05 * settings.Options.SampleTokens;
                var perStep = measured + evalSeconds / settings.Options.EvalEvery;
                var remaining = budgetTotal - elapsedBefore - clock.Elapsed.TotalSeconds - evalSeconds - 2;
                var fitted = Math.Max(step + 1, step + (int)(remaining / perStep));
                if (first)
                {
                    warmup = settings.Options.WarmupSteps ?? DefaultWarmup(fitted, settings.Options.BaseModel is not null);
                    (trainSecondsAtProbe, stepAtProbe) = (trainSeconds, step);
                }
                else recalibrated = true;
                if (first || Math.Abs(fitted - maxSteps) > 0.05 * maxSteps)
                {
                    maxSteps = fitted;
                    state = state with { MaxSteps = maxSteps, WarmupSteps = warmup };
                    Report(new TrainingMessage($"Measured {tokensPerStep / measured:N0} tokens/s: {maxSteps:N0} steps fit in the {budgetTotal / 60:0.#}-minute budget."));
                }
            }

            var isLast = step >= maxSteps;
            if (step % settings.Options.LogEvery == 0 || isLast)
            {
                var loss = runningLoss.item<float>() / intervalSteps; // the only device sync between evaluations
                runningLoss.zero_();
                var interval = intervalClock.Elapsed.TotalSeconds;
                secondsPerStep = secondsPerStep == 0 ? interval / intervalSteps : 0.7 * secondsPerStep + 0.3 * interval / intervalSteps;
                var eta = maxSteps == int.MaxValue ? 0 : (maxSteps - step) * secondsPerStep;
                Report(new TrainingStep(step, maxSteps == int.MaxValue ? 0 : maxSteps, loss, lr, intervalSteps * tokensPerStep / interval,
                    elapsedBefore + clock.Elapsed.TotalSeconds, eta));
                intervalSteps = 0;
                intervalClock.Restart();
            }

            if (step % settings.Options.EvalEvery == 0 || isLast)
            {
                lastEval = Evaluate(model, tokenizer, valTokens, valWindows, settings, charsPerToken, step);
                if (lastEval.ValLoss < bestValLoss)
                {
                    bestValLoss = lastEval.ValLoss;
                    ModelFolder.Save(model, tokenizer, _folder.ModelDirectory);
                }
                state = state with { Step = step, MaxSteps = maxSteps, WarmupSteps = warmup, OptimizerStep = optimizer.Step, BestValLoss = bestValLoss, TokensSeen = tokensSeen, ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds };
                Checkpoint.Save(_folder, model, optimizer, state);
                Report(new CheckpointSaved(step));
                intervalClock.Restart(); // evaluation time is not training throughput
            }
        }

        if (lastEval is null || lastEval.Step != step)
        {
            if (step > 0 || !File.Exists(Path.Combine(_folder.ModelDirectory, ModelFolder.WeightsFile)))
            {
                lastEval = Evaluate(model, tokenizer, valTokens, valWindows, settings, charsPerToken, step);
                if (lastEval.ValLoss < bestValLoss) { bestValLoss = lastEval.ValLoss; ModelFolder.Save(model, tokenizer, _folder.ModelDirectory); }
            }
            state = state with { Step = step, MaxSteps = maxSteps == int.MaxValue ? step : maxSteps, WarmupSteps = warmup, OptimizerStep = optimizer.Step, BestValLoss = bestValLoss, TokensSeen = tokensSeen, ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds };
            Checkpoint.Save(_folder, model, optimizer, state);
            Report(new CheckpointSaved(step));
        }

        var finished = new TrainingFinished(step, bestValLoss, Math.Exp(bestValLoss), Evaluation.BitsPerCharacter(bestValLoss, charsPerToken),
            cancelled, _folder.ModelDirectory, elapsedBefore + clock.Elapsed.TotalSeconds, tokensSeen, settings.BaselineValLoss);
        if (!cancelled) AtomicFile.WriteAllText(_folder.ResultFile, finished.ToJsonLine());
        Report(finished);
        return finished;
    }

    private static void TrainStep(LlamaForCausalLM model, AdamW optimizer, Batches batches, TorchSharp.Modules.Parameter[] parameters, int step, double lr, Tensor runningLoss, int accumulation, double clip)
    {
        using var scope = NewDisposeScope();
        for (int micro = 0; micro < accumulation; micro++)
        {
            var (x, y) = batches.Sample(step, micro);
            var logits = model.forward(x);                                              // (B, T, V)
            var loss = F.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1));
            (loss / accumulation).backward();
            using (no_grad()) runningLoss.add_(loss.detach() / accumulation);
        }
        nn.utils.clip_grad_norm_(parameters, clip);
        optimizer.Update(lr);
        optimizer.ZeroGrad();
    }

    private EvaluationResult Evaluate(LlamaForCausalLM model, ITokenizer tokenizer, TokenBin valTokens, IReadOnlyList<(long, int)> windows, RunSettings settings, double charsPerToken, int step)
    {
        var valLoss = Evaluation.MeanLoss(model, valTokens, windows, settings.BatchSize);
        var samples = settings.SamplePrompts.Select((prompt, i) =>
        {
            var ids = (tokenizer.BosId is { } bos ? new[] { bos } : []).Concat(tokenizer.Encode(prompt)).ToList();
            var generated = Generation.Sample(model, ids, settings.Options.SampleTokens, temperature: 0.8, topK: 40, seed: settings.Options.Seed + i, stopId: tokenizer.EosId);
            return new SampleOutput(prompt, prompt + tokenizer.Decode(generated));
        }).ToList();
        var result = new EvaluationResult(step, null, valLoss, Math.Exp(valLoss), Evaluation.BitsPerCharacter(valLoss, charsPerToken), samples);
        Report(result);
        return result;
    }

    private static int DefaultWarmup(int? maxSteps, bool fineTuning)
    {
        var cap = fineTuning ? 20 : 100;
        return maxSteps is { } m ? Math.Clamp(m / 10, 1, cap) : cap;
    }

    private (RunSettings, ITokenizer) LoadRun()
    {
        if (!File.Exists(_folder.SettingsFile)) throw new EngineException($"'{_folder.Root}' holds no run to resume (run.json is missing). Start it without --resume.");
        RunSettings settings;
        try { settings = JsonSerializer.Deserialize<RunSettings>(File.ReadAllText(_folder.SettingsFile), TrainingEvent.Json)!; }
        catch (JsonException e) { throw new EngineException($"The run settings (run.json) are damaged and the run cannot be resumed ({e.Message}).", e); }
        return (settings, TokenizerFile.Load(_folder.TokenizerFile));
    }

    private (RunSettings, ITokenizer) PrepareRun(Device device, CancellationToken cancellationToken)
    {
        if (File.Exists(_folder.SettingsFile))
            throw new EngineException($"'{_folder.Root}' already holds a training run. Use --resume to continue it, or choose a new run folder.");
        var corpus = TextCorpus.Load(options.DataPath, options.ValidationFraction);
        Directory.CreateDirectory(_folder.Root);

        ITokenizer tokenizer;
        LlamaConfig? baseConfig = null;
        if (options.BaseModel is { } baseModel)
        {
            baseConfig = LlamaConfig.Load(Path.Combine(baseModel, ModelFolder.ConfigFile));
            var baseTokenizer = Path.Combine(baseModel, ModelFolder.TokenizerFile);
            if (!File.Exists(baseTokenizer)) throw new EngineException($"The base model folder '{baseModel}' has no tokenizer.json; a model cannot be fine-tuned without its own tokenizer.");
            tokenizer = TokenizerFile.Load(baseTokenizer);
            Report(new TrainingMessage($"Fine-tuning {baseConfig.ParameterCount:N0}-parameter base model with its own tokenizer."));
        }
        else
        {
            Report(new TrainingMessage($"Training a {options.VocabSize:N0}-token tokenizer on {corpus.TrainCharacters:N0} characters."));
            tokenizer = new BpeTrainer(options.VocabSize).Train(corpus.TrainDocuments, cancellationToken);
        }
        cancellationToken.ThrowIfCancellationRequested();
        tokenizer.Save(_folder.TokenizerFile);

        var trainIds = Evaluation.EncodeDocuments(tokenizer, corpus.TrainDocuments).ToList();
        var valIds = Evaluation.EncodeDocuments(tokenizer, corpus.ValidationDocuments).ToList();
        var vocab = baseConfig?.VocabSize ?? tokenizer.VocabSize;

        ModelPreset? preset = null;
        string presetName;
        if (baseConfig is not null) presetName = "base";
        else if (string.Equals(options.Preset, ModelPresets.Auto, StringComparison.OrdinalIgnoreCase))
        {
            // With a fixed step count the tokens each preset would see are known; with a time budget they are measured.
            var choice = options.MaxSteps is { } steps
                ? PresetSelector.Choose(trainIds.Count, 1, vocab, device, p => (double)steps * (options.BatchSize ?? p.BatchSize) * (options.ContextLength ?? p.ContextLength) * options.GradientAccumulation)
                : PresetSelector.Choose(trainIds.Count, (options.Minutes ?? TrainingOptions.DefaultMinutes) * 60, vocab, device);
            preset = choice.Preset;
            presetName = preset.Name;
            Report(new TrainingMessage(choice.Reason));
        }
        else { preset = ModelPresets.Get(options.Preset); presetName = preset.Name; }

        var config = baseConfig ?? preset!.ConfigFor(vocab, tokenizer.BosId, tokenizer.EosId, tokenizer.PadId);
        var context = options.ContextLength ?? preset?.ContextLength ?? Math.Min(config.MaxPositions, 256);
        if (context > config.MaxPositions) throw new EngineException($"The context length {context} is longer than the model supports ({config.MaxPositions}).");
        if (trainIds.Count < context + 1)
        {
            var charsPerToken = (double)corpus.TrainCharacters / Math.Max(1, trainIds.Count);
            throw new EngineException($"The training text is too short: it has {trainIds.Count:N0} tokens, but the model reads {context} tokens at a time. " +
                                      $"Add more text (at least about {(int)Math.Ceiling((context + 1 - trainIds.Count) * charsPerToken / (1 - options.ValidationFraction)):N0} more characters) or choose a shorter context length.");
        }
        if (valIds.Count < 2) throw new EngineException("The validation part of the text is too short to measure the model. Add more text.");

        Directory.CreateDirectory(Path.GetDirectoryName(_folder.TrainTokensFile)!);
        TokenBin.Write(_folder.TrainTokensFile, trainIds, vocab);
        TokenBin.Write(_folder.ValidationTokensFile, valIds, vocab);
        var settings = new RunSettings(options, presetName, config, options.BatchSize ?? preset?.BatchSize ?? 8, context,
            options.LearningRate ?? (baseConfig is not null ? 3e-4 : preset!.LearningRate),
            trainIds.Count, valIds.Count, corpus.TrainCharacters, corpus.ValidationCharacters,
            SamplePrompts(corpus.ValidationDocuments), corpus.SourceFiles, DateTimeOffset.UtcNow,
            Evaluation.UnigramBaselineLoss(trainIds, valIds, vocab));
        AtomicFile.WriteAllText(_folder.SettingsFile, JsonSerializer.Serialize(settings, new JsonSerializerOptions(TrainingEvent.Json) { WriteIndented = true }));
        return (settings, tokenizer);
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

    private void Report(TrainingEvent e)
    {
        try { File.AppendAllText(_folder.MetricsFile, e.ToJsonLine() + "\n"); }
        catch (DirectoryNotFoundException) { }
        progress.Report(e);
    }
}
