using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using System.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>
/// Trains one run in a run folder: <see cref="RunPreparation"/> prepares tokens and picks the model, then the loop
/// steps AdamW on a <see cref="LearningRateSchedule"/>, evaluating, sampling and checkpointing as it goes (the shape of
/// nanoGPT's train.py). Progress goes to <see cref="IProgress{T}"/> and metrics.jsonl; cancellation (token or a CANCEL
/// file in the run folder) stops within a step and leaves a resumable checkpoint.
/// </summary>
public sealed class Trainer(TrainingOptions options, IProgress<TrainingEvent> progress, TimeProvider? clock = null)
{
    private readonly RunFolder _folder = RunFolder.At(options.RunDirectory);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private bool _metricsUnwritable;

    public TrainingFinished Run(bool resume, CancellationToken cancellationToken)
    {
        // Held until this method returns or the process dies: a second trainer (a resume started by a restarted portal
        // while an orphan still runs) is refused instead of interleaving its steps and checkpoints with this one's.
        using var claim = resume && !Directory.Exists(_folder.Root) ? null : _folder.LockForTrainer();
        var device = TorchDevice.Parse(options.Device);
        // Before the first tensor: large tensors then go back to the system when freed (see NativeHeap).
        NativeHeap.KeepReturningFreedMemory();
        // A base model's files are checked against each other and this machine's memory before anything is allocated.
        // With LoRA the base weights get no gradients and no optimizer state: the weights themselves are what must fit.
        if (!resume && options.BaseModel is { } baseModel) ModelFolder.CheckBeforeLoading(baseModel, device.type == DeviceType.CPU && options.Lora is null ? ModelFolder.TrainingBytesPerParameter : ModelFolder.InferenceBytesPerParameter);
        (RunSettings Settings, ITokenizer Tokenizer)? saved = resume ? RunPreparation.Load(_folder) : null;
        var asked = saved?.Settings.Options ?? options; // a resumed run keeps the precision it started with
        var (stepType, precisionReason) = TrainingPrecision.Resolve(asked.Precision, device, fromScratch: asked.BaseModel is null, lora: asked.Lora is not null);
        var (settings, tokenizer) = saved ?? new RunPreparation(options, _folder, Report).Prepare(device, stepType, cancellationToken);
        // Said once the data has been read: a data error stays the only line a failed start prints.
        if (precisionReason is not null) Report(new TrainingMessage(precisionReason));
        File.Delete(_folder.CancelFile);
        var run = settings.Options;
        if (!resume && run.BaseModel is { } startedFrom) Library.BaseModelLineage.Of(startedFrom, cancellationToken).Save(_folder.BaseModelFile);

        manual_seed(options.Seed);
        using var model = CreateModel(settings, resume, device);
        using var adapters = run.Lora is { } lora ? LoraAdapters.Inject(model, lora) : null;
        var trainable = adapters?.NamedParameters() ?? model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var lowPrecision = stepType == ScalarType.BFloat16 ? new BFloat16Steps(model, device) : null; // never with LoRA (TrainingPrecision)
        using var optimizer = new AdamW(trainable.Select(p => (p.Item1, (Tensor)p.Item2)), run.WeightDecay ?? RepetitionWeightDecay.Default, gradientsFrom: lowPrecision?.GradientsFrom);
        using ITrainingObjective objective = run.InstructionData is { } pairs ? new Instruction.InstructionObjective(pairs, settings, device) : new NextTokenObjective(_folder, settings, device);
        // Fine-tuning keeps the model its last step made: averaging is measured only for runs from scratch.
        using var average = run.BaseModel is null && adapters is null ? new WeightAverage(model) : null;
        var state = resume ? Checkpoint.Load(_folder, model, optimizer, adapters, average)
            : new CheckpointState(0, run.MaxSteps ?? 0, 0, settings.PeakLearningRate, 0, double.PositiveInfinity, 0, 0, run.Seed, Optimizer: Muon.For(run, ModelPresets.All.FirstOrDefault(p => p.Name == settings.Preset)));
        var tokensPerStep = (long)settings.BatchSize * settings.ContextLength * run.GradientAccumulation;
        int? stepLimit = run.StopAtReadingLimit && run.BaseModel is null && run.InstructionData is null ? ReadingLimit.Steps(tokensPerStep, settings.TrainTokens) : null;
        var budget = new TimeBudget(TimeBudget.SecondsFor(run), state.Step, state.MaxSteps > 0, state.ElapsedSeconds,
            new EvaluationCost(objective.ValidationBatches, run.SampleTokens, run.EvalEvery), _clock, stepLimit);
        int? maxSteps = state.MaxSteps > 0 ? state.MaxSteps : null; // with a time budget, fixed once speed is measured
        var warmup = state.WarmupSteps > 0 ? state.WarmupSteps : run.WarmupSteps ?? DefaultWarmup(run.MaxSteps, run.BaseModel is not null);
        var (step, tokensSeen, bestValLoss) = (state.Step, state.TokensSeen, state.BestValLoss);
        var state0Step = state.Step;
        var dropout = run.Dropout ?? state.ResidualDropout;
        SetDropout(dropout);
        optimizer.WeightDecay = run.WeightDecay ?? state.WeightDecay ?? RepetitionWeightDecay.Default;
        optimizer.Muon = state.Optimizer == MatrixOptimizer.Muon;
        if (!resume && maxSteps is { } fixedSteps) PlanRegularisation(fixedSteps);
        EvaluationResult? lastEval = null;
        var cancelled = false;
        using var log = new LossLog(device, _clock);

        Report(Started(settings, state, device));

        void SetDropout(double rate)
        {
            model.ResidualDropout = rate;
            if (lowPrecision is not null) lowPrecision.Model.ResidualDropout = rate;
        }

        // Decided again with each new schedule (a time budget knows its step count only once speed is measured); both
        // only ever rise, so that a run that reads its text fewer times than planned keeps what it started with.
        void PlanRegularisation(int scheduledSteps)
        {
            if (run.Lora is not null || run.InstructionData is not null) return;
            var passes = RepetitionDropout.Passes(scheduledSteps, tokensPerStep, settings.TrainTokens);
            if (run.Dropout is null && RepetitionDropout.For(passes, settings.TrainTokensPerParameter) is var rate && rate > dropout)
            {
                Report(new TrainingMessage(RepetitionDropout.Explain(passes, rate)));
                SetDropout(dropout = rate);
            }
            if (run.WeightDecay is null && run.BaseModel is null && RepetitionWeightDecay.For(passes) is var decay && decay > optimizer.WeightDecay)
            {
                Report(new TrainingMessage(RepetitionWeightDecay.Explain(decay)));
                optimizer.WeightDecay = decay;
            }
        }

        double? decayFraction = run.HoldPeakLearningRate && run.BaseModel is null ? LearningRateSchedule.FromScratchDecayFraction : null;
        double GetLr(int s) => new LearningRateSchedule(settings.PeakLearningRate, warmup, maxSteps ?? 1_000_000, run.MinLearningRateFraction, decayFraction).At(s);

        var savedStep = resume ? state.Step : (int?)null;
        void SaveCheckpoint(int scheduledSteps)
        {
            using var scope = NewDisposeScope();
            var next = state with { Step = step, MaxSteps = scheduledSteps, WarmupSteps = warmup, OptimizerStep = optimizer.Step, BestValLoss = bestValLoss, TokensSeen = tokensSeen, ElapsedSeconds = budget.ElapsedSeconds, ResidualDropout = dropout, WeightDecay = optimizer.WeightDecay };
            WriteOrExplain("the checkpoint", _folder.CheckpointFile, savedStep, () => Checkpoint.Save(_folder, model, optimizer, next, adapters, average));
            state = next;
            savedStep = step;
            Report(new CheckpointSaved(step));
        }

        void EstimateLoss() // the best (averaged) weights so far are the run's model
        {
            // Saving the model makes a tensor (a detached alias) per weight: freed here, not whenever the GC gets to them.
            using var scope = NewDisposeScope();
            using var averaged = average?.Applied();
            lastEval = Evaluate(model, objective, tokenizer, settings, step);
            if (lastEval.ValLoss >= bestValLoss) return;
            WriteOrExplain("the trained model", _folder.ModelDirectory, savedStep, () => SaveModel(model, adapters, tokenizer, run));
            bestValLoss = lastEval.ValLoss;
        }

        var parameters = lowPrecision?.Parameters ?? trainable.Select(p => p.Item2).ToArray();
        while (maxSteps is null || step < maxSteps)
        {
            if (cancellationToken.IsCancellationRequested || File.Exists(_folder.CancelFile)) { cancelled = true; break; }
            if (budget.IsUsedUp) { Report(new TrainingMessage($"The time budget was used up at step {step} of {maxSteps}; finishing now.")); break; }
            var lr = GetLr(step);
            // Dropout masks depend only on (seed, step), like the batches: a resumed run takes the steps an uninterrupted one would.
            manual_seed(unchecked(run.Seed * 1_000_003 + step));
            budget.TimeStep(() =>
            {
                lowPrecision?.LoadWeights();
                TrainStep(lowPrecision?.Model ?? model, objective, optimizer, parameters, step, lr, log.RunningLoss, run);
                average?.Update(step + 1);
            });
            step++;
            tokensSeen += tokensPerStep;
            log.StepDone();

            if (budget.Refit(step, maxSteps) is { } fit)
            {
                if (fit.First) warmup = run.WarmupSteps ?? DefaultWarmup(fit.MaxSteps, run.BaseModel is not null);
                var wasLimited = maxSteps == stepLimit;
                maxSteps = fit.MaxSteps;
                Report(new TrainingMessage(fit.Limited && !wasLimited
                    ? ReadingLimit.Explain(fit.MaxSteps, RepetitionDropout.Passes(fit.MaxSteps, tokensPerStep, settings.TrainTokens), settings.TrainTokens,
                        budget.Seconds!.Value / 60, (budget.ElapsedSeconds + (fit.MaxSteps - step) * fit.SecondsPerStep) / 60)
                    : $"Measured {tokensPerStep / fit.SecondsPerStep:N0} tokens/s: {maxSteps:N0} steps fit in the {budget.Seconds / 60:0.#}-minute budget."));
                PlanRegularisation(fit.MaxSteps);
            }

            var isLast = step >= maxSteps;
            // A run that ends at its step limit ends before its budget: its time left is what its steps take.
            if (step % run.LogEvery == 0 || isLast) Report(log.Read(step, maxSteps, lr, tokensPerStep, budget.ElapsedSeconds, maxSteps == stepLimit ? null : budget.SecondsLeft));
            if (step % run.EvalEvery == 0 || isLast)
            {
                EstimateLoss();
                SaveCheckpoint(maxSteps ?? int.MaxValue);
                ReleaseEvaluationMemory();
                log.SkipInterval(); // evaluation time is not training throughput
            }
        }

        if (lastEval is null || lastEval.Step != step)
        {
            if (step > 0 || !File.Exists(Path.Combine(_folder.ModelDirectory, ModelFolder.WeightsFile))) EstimateLoss();
            SaveCheckpoint(maxSteps ?? step); // a run stopped before its speed was measured ends where it stopped
        }

        var trainedThisSession = step - state0Step;
        var finished = new TrainingFinished(step, bestValLoss, Math.Exp(bestValLoss), DocumentStream.BitsPerCharacter(bestValLoss, settings.ValidationCharactersPerToken),
            cancelled, _folder.ModelDirectory, budget.ElapsedSeconds, tokensSeen, settings.BaselineValLoss,
            budget.TrainSeconds > 0 && trainedThisSession > 0 ? trainedThisSession * (double)tokensPerStep / budget.TrainSeconds : null);
        if (!cancelled) WriteOrExplain("the result", _folder.ResultFile, savedStep, () => AtomicFile.WriteAllText(_folder.ResultFile, finished.ToJsonLine()));
        Report(finished);
        return finished;
    }

    /// <summary>
    /// Runs a write of the run's files; a failing disk (full, read-only, gone) stops the run with a message that names
    /// the disk and its free space. Every file is written atomically, so the previous checkpoint is still there.
    /// </summary>
    private void WriteOrExplain(string what, string path, int? savedStep, Action write)
    {
        try { write(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var kept = savedStep is { } s
                ? $"The previous checkpoint (step {s:N0}) is kept: free some space, then resume the run to continue from it."
                : "No checkpoint had been saved yet: free some space, then start the run again.";
            throw new EngineException($"Could not write {what} to {path}: {e.Message}. {DiskSpace.Describe(path)} {kept}", e);
        }
    }

    private static TrainingStarted Started(RunSettings settings, CheckpointState state, Device device) =>
        new(settings.Preset, settings.Config.ParameterCount, state.MaxSteps, state.Step, device.type.ToString().ToLowerInvariant(),
            settings.Config.VocabSize, settings.ContextLength, settings.BatchSize, settings.TrainTokens, settings.ValidationTokens,
            settings.PeakLearningRate, settings.Options.BaseModel, settings.BaselineValLoss);

    /// <summary>The model folder holds the weights to use (adapters merged in); a LoRA run's adapters go beside them in PEFT's layout.</summary>
    private void SaveModel(LlamaForCausalLM model, LoraAdapters? adapters, ITokenizer tokenizer, TrainingOptions run)
    {
        ModelFolder.Save(model, tokenizer, _folder.ModelDirectory, adapters?.MergedWeights(model));
        if (adapters is not null && run.BaseModel is { } baseModel)
            adapters.SavePeft(_folder.AdapterDirectory, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(baseModel))));
    }

    private static LlamaForCausalLM CreateModel(RunSettings settings, bool resume, Device device)
    {
        var model = new LlamaForCausalLM(settings.Config);
        // A LoRA checkpoint holds only the adapters, so a resumed LoRA run starts from the base weights again.
        if (settings.Options.BaseModel is { } baseModel && (!resume || settings.Options.Lora is not null))
            ModelFolder.LoadWeights(model, ModelFolder.ReadWeights(baseModel), "the base model");
        else model.InitializeWeights(settings.Options.Seed);
        model.to(device);
        model.train();
        return model;
    }

    /// <summary>One optimizer step over the micro-batches; every tensor it makes is freed when it returns.</summary>
    private static void TrainStep(LlamaForCausalLM model, ITrainingObjective objective, AdamW optimizer, TorchSharp.Modules.Parameter[] parameters,
        int step, double lr, Tensor runningLoss, TrainingOptions run)
    {
        using var scope = NewDisposeScope();
        var accumulation = run.GradientAccumulation;
        for (int micro = 0; micro < accumulation; micro++)
        {
            var loss = objective.Loss(model, step, micro);
            (loss / accumulation).backward();
            using (no_grad()) runningLoss.add_(loss.detach() / accumulation);
        }
        nn.utils.clip_grad_norm_(parameters, run.GradientClip);
        optimizer.Update(lr);
        optimizer.ZeroGrad();
    }

    /// <summary>
    /// Evaluation and checkpoints allocate once in a while what steps never do (validation batches, copies of every
    /// weight and moment on their way to disk): handed back at once, they do not stay resident for the rest of the run.
    /// </summary>
    private static void ReleaseEvaluationMemory()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        NativeHeap.GiveBackFreedMemory();
    }

    private EvaluationResult Evaluate(LlamaForCausalLM model, ITrainingObjective objective, ITokenizer tokenizer, RunSettings settings, int step)
    {
        var valLoss = objective.ValidationLoss(model);
        var samples = settings.SamplePrompts.Select((prompt, i) =>
        {
            var ids = (tokenizer.BosId is { } bos ? new[] { bos } : []).Concat(tokenizer.Encode(prompt)).ToList();
            // The playground's default decoding, so that the samples show what users will get, not a greedy loop.
            var decoding = new Inference.GenerationSettings(settings.Options.SampleTokens, Seed: unchecked((int)(settings.Options.Seed + i)));
            var generated = Generation.Sample(model, ids, decoding, stopId: tokenizer.EosId);
            return new SampleOutput(prompt, prompt + Inference.PrintableText.Of(tokenizer.Decode(generated)));
        }).ToList();
        var result = new EvaluationResult(step, null, valLoss, Math.Exp(valLoss), DocumentStream.BitsPerCharacter(valLoss, settings.ValidationCharactersPerToken), samples);
        Report(result);
        return result;
    }

    private static int DefaultWarmup(int? maxSteps, bool fineTuning)
    {
        var cap = fineTuning ? 20 : 100;
        return maxSteps is { } m ? Math.Clamp(m / 10, 1, cap) : cap;
    }

    private void Report(TrainingEvent e)
    {
        if (!_metricsUnwritable)
        {
            try { File.AppendAllText(_folder.MetricsFile, e.ToJsonLine() + "\n"); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The events still reach the caller (the portal keeps its own copy); only the file's curve stops here.
                _metricsUnwritable = true;
                progress.Report(new TrainingMessage($"Progress can no longer be written to {_folder.MetricsFile} ({ex.Message}); training continues, but that file's record of this run is incomplete."));
            }
        }
        progress.Report(e);
    }

    /// <summary>
    /// The training loss between log lines: accumulated on the device and read once per log interval, the only device
    /// sync between evaluations; with the measured throughput and a smoothed time per step for the ETA.
    /// </summary>
    private sealed class LossLog(Device device, TimeProvider clock) : IDisposable
    {
        public Tensor RunningLoss { get; } = zeros(1, device: device);
        private int _steps;
        private long _intervalStart = clock.GetTimestamp();
        private double _secondsPerStep;

        public void StepDone() => _steps++;

        public void SkipInterval() => _intervalStart = clock.GetTimestamp();

        /// <param name="budgetLeft">The time budget's remainder, when the run has one: then it is the ETA.</param>
        public TrainingStep Read(int step, int? maxSteps, double lr, long tokensPerStep, double elapsedSeconds, double? budgetLeft)
        {
            var loss = RunningLoss.item<float>() / _steps;
            // zero_ hands back a new handle to the same tensor: one per log line escaped before (seen as the live
            // tensor count rising by exactly one per logged step in slm bench train --memory).
            using (NewDisposeScope()) RunningLoss.zero_();
            var interval = clock.GetElapsedTime(_intervalStart).TotalSeconds;
            _secondsPerStep = _secondsPerStep == 0 ? interval / _steps : 0.7 * _secondsPerStep + 0.3 * interval / _steps;
            var eta = budgetLeft ?? (maxSteps is { } m ? (m - step) * _secondsPerStep : 0);
            var result = new TrainingStep(step, maxSteps ?? 0, loss, lr, _steps * tokensPerStep / interval, elapsedSeconds, eta);
            _steps = 0;
            _intervalStart = clock.GetTimestamp();
            return result;
        }

        public void Dispose() => RunningLoss.Dispose();
    }
}
