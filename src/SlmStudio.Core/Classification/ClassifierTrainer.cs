using System.Text.Json.Serialization;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Classification;

/// <summary>A text as token ids (at most the length limit, from its beginning) with its label's index.</summary>
public sealed record TokenizedExample(int[] Ids, int Label, string? Text = null);

public sealed record RankedLabel(string Label, float Probability);

public sealed record ClassifierTrainingOptions
{
    public int BatchSize { get; init; } = 32;
    public int MaxSteps { get; init; } = 2000;

    /// <summary>Training stops at the first evaluation past this much time (the budget users set, as for text models).</summary>
    public TimeSpan? TimeBudget { get; init; }

    public double LearningRate { get; init; } = 1e-3;
    public int WarmupSteps { get; init; } = 20;
    public double WeightDecay { get; init; } = 0.01;
    public double GradientClip { get; init; } = 1.0;

    /// <summary>Validation macro-F1 is measured every this many steps (and at the end).</summary>
    public int EvaluateEvery { get; init; } = 50;

    /// <summary>
    /// Training stops after this many evaluations in a row that improve neither the validation macro-F1 nor the
    /// validation loss. The loss counts too because held-out texts drawn from the same source are often all right long
    /// before the model is sure of them: a saturated score alone would stop a model that is still learning, and such a
    /// model copes worse with new ways of saying the same thing.
    /// </summary>
    public int Patience { get; init; } = 5;

    /// <summary>
    /// Each token of a training text is left out with this probability, anew at every step (never all of them). The
    /// model cannot lean on one telling token or on a fixed phrase, meant for texts worded unlike any training text.
    /// Off here; a classification run from scratch turns it on (<see cref="ClassificationRunOptions.ScratchTokenDropout"/>, measured).
    /// </summary>
    public double TokenDropout { get; init; }

    /// <summary>
    /// The target puts this much of its probability evenly on all labels instead of all on the right one (against
    /// overconfidence). Off here; a run from scratch turns it on: on the intent benchmark it lowered the calibration error.
    /// </summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Dropout on the pooled vector before the head, during training (off here; on from scratch, see <see cref="ClassificationRunOptions"/>).</summary>
    public double HeadDropout { get; init; }

    /// <summary>
    /// With word scores (<see cref="TokenPairs"/>): this factor times the sum of their squares is added to the loss. It
    /// keeps each score small, so the classifier spreads what it learns over all the words and letter groups that go
    /// with a label instead of a few that happen to fit the training texts: on the intent benchmark a words-only
    /// classifier got 78.5% of its test messages right without it and 83.3% with 5e-5 (1,500 steps,
    /// <c>bench/ClassifierAblation words</c>). Factors from 3e-5 to 1e-4 did about as well in an earlier version of that
    /// experiment; 3e-4 fell apart. Without letter groups the same factor is too strong (74.5%).
    /// </summary>
    public double WordScoreL2 { get; init; } = 5e-5;

    /// <summary>
    /// Word scores learn this many times faster than the backbone: each is a single number per label that starts at
    /// zero and only moves when its word is in the batch (10 matches the measured words-only setting, learning rate 1e-2).
    /// </summary>
    public double WordScoreLearningRateScale { get; init; } = 10;

    /// <summary>
    /// Weighs each label's loss by total / (labels × its count) (scikit-learn's "balanced"), so a rare label counts as
    /// much as a common one in the loss.
    /// </summary>
    public bool ClassWeights { get; init; } = true;

    public int EvaluationBatchSize { get; init; } = 64;

    /// <summary>Where the trainer keeps its checkpoint (after each evaluation and when stopped); null: none is kept.</summary>
    public string? CheckpointFile { get; init; }
    public long Seed { get; init; } = 1234;
}

[JsonConverter(typeof(JsonStringEnumConverter<ClassifierStopReason>))]
public enum ClassifierStopReason { StepLimit, TimeBudget, EarlyStopping }

/// <summary>One optimizer step: its loss, the learning rate it used and the step count the schedule runs to.</summary>
public sealed record ClassifierStep(int Step, int MaxSteps, double Loss, double LearningRate, TimeSpan Elapsed);

/// <summary>A validation measurement during training, with the average training loss since the previous one.</summary>
public sealed record ClassifierEvaluation(int Step, double TrainLoss, TimeSpan Elapsed, ClassificationMetrics Validation, double ValidationLoss = double.NaN);

public sealed record ClassifierTrainingResult(
    int Steps,
    ClassifierStopReason StoppedBecause,
    int BestStep,
    ClassificationMetrics BestValidation,
    IReadOnlyList<double> StepLosses,
    IReadOnlyList<ClassifierEvaluation> Evaluations,
    IReadOnlyList<float> ClassWeights,
    TimeSpan Elapsed);

/// <summary>
/// Trains a <see cref="LlamaForSequenceClassification"/> (head and backbone together) on labelled texts: class-weighted
/// cross-entropy, AdamW with warmup and cosine decay, early stopping on validation macro-F1 with the best weights
/// restored at the end, within a step and time budget. The backbone is what the caller built: random, or loaded from a
/// language phase or a base model.
/// </summary>
public sealed class ClassifierTrainer(ClassifierTrainingOptions options, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>Raised after each validation measurement (progress for the portal and the command line).</summary>
    public event Action<ClassifierEvaluation>? Evaluated;

    /// <summary>Raised after a checkpoint was written (the step it holds).</summary>
    public event Action<int>? CheckpointSaved;

    /// <summary>Raised after every optimizer step.</summary>
    public event Action<ClassifierStep>? Stepped;

    /// <summary>With a time budget, the speed is measured over this many steps and the schedule fitted to the budget.</summary>
    public const int ProbeSteps = 5;

    /// <summary>Token ids of each usable example, cut to <paramref name="maxTokens"/>; labels as indices into <paramref name="labels"/>.</summary>
    public static IReadOnlyList<TokenizedExample> Tokenize(ITokenizer tokenizer, IEnumerable<LabelledExample> examples, IReadOnlyList<string> labels, int maxTokens)
    {
        var index = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i, StringComparer.Ordinal);
        var result = new List<TokenizedExample>();
        foreach (var e in examples.Where(e => e.IsUsable))
        {
            if (!index.TryGetValue(e.Label, out var label))
                throw new ArgumentException($"The label \"{e.Label}\" (row {e.Row}) is not one of the classifier's labels.", nameof(examples));
            // User text is untrusted: text that spells a special token stays text.
            var ids = tokenizer.Encode(e.Text, addSpecialTokens: false, splitSpecialTokens: false);
            if (ids.Length == 0) continue;
            result.Add(new TokenizedExample(ids.Length > maxTokens ? ids[..maxTokens] : ids, label, e.Text));
        }
        return result;
    }

    /// <summary>Right-padded ids (B, T) and the attention mask (B, T), T the longest of the batch.</summary>
    public static (Tensor Ids, Tensor Mask) Pad(IReadOnlyList<int[]> sequences, int padId, Device device)
    {
        var length = sequences.Max(s => s.Length);
        var ids = new long[sequences.Count * length];
        var mask = new long[sequences.Count * length];
        for (int b = 0; b < sequences.Count; b++)
        {
            var s = sequences[b];
            for (int t = 0; t < length; t++)
            {
                ids[b * length + t] = t < s.Length ? s[t] : padId;
                mask[b * length + t] = t < s.Length ? 1 : 0;
            }
        }
        return (tensor(ids, [sequences.Count, length], device: device), tensor(mask, [sequences.Count, length], device: device));
    }

    /// <summary>Label probabilities for each example, in batches of similar length, without gradients.</summary>
    public static float[][] PredictProbabilities(LlamaForSequenceClassification model, IReadOnlyList<int[]> sequences, int batchSize = 64, int padId = 0)
    {
        var device = model.parameters().First().device;
        var result = new float[sequences.Count][];
        var wasTraining = model.training;
        model.eval();
        // Similar lengths together: less padding to compute.
        var order = Enumerable.Range(0, sequences.Count).OrderBy(i => sequences[i].Length).ToArray();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = order.Skip(start).Take(batchSize).ToArray();
            var (ids, mask) = Pad([.. batch.Select(i => sequences[i])], padId, device);
            var probabilities = model.Probabilities(ids, mask).cpu();
            var flat = probabilities.data<float>().ToArray();
            var k = (int)probabilities.shape[1];
            for (int j = 0; j < batch.Length; j++) result[batch[j]] = flat[(j * k)..((j + 1) * k)];
        }
        model.train(wasTraining);
        return result;
    }

    /// <summary>
    /// The labels of each text ranked by probability, most likely first (the playground's bars, the command line's list).
    /// A text with no tokens gets the backbone's answer for the padding token alone.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<RankedLabel>> Classify(LlamaForSequenceClassification model, ITokenizer tokenizer, IReadOnlyList<string> texts, int maxTokens, int batchSize = 64)
    {
        var padId = tokenizer.PadId ?? 0;
        var sequences = texts.Select(t =>
        {
            var ids = tokenizer.Encode(t, addSpecialTokens: false, splitSpecialTokens: false);
            return ids.Length == 0 ? [padId] : ids.Length > maxTokens ? ids[..maxTokens] : ids;
        }).ToList();
        var probabilities = PredictProbabilities(model, sequences, batchSize, padId);
        return [.. probabilities.Select(row => (IReadOnlyList<RankedLabel>)[.. row.Select((p, i) => new RankedLabel(model.Labels[i], p)).OrderByDescending(r => r.Probability)])];
    }

    public static ClassificationMetrics Evaluate(LlamaForSequenceClassification model, IReadOnlyList<TokenizedExample> examples, int batchSize = 64) =>
        EvaluateWithLoss(model, examples, batchSize).Metrics;

    /// <summary>The metrics and the mean cross-entropy (nats) of the right labels, without label smoothing or class weights.</summary>
    public static (ClassificationMetrics Metrics, double Loss) EvaluateWithLoss(LlamaForSequenceClassification model, IReadOnlyList<TokenizedExample> examples, int batchSize = 64)
    {
        var probabilities = PredictProbabilities(model, [.. examples.Select(e => e.Ids)], batchSize);
        var loss = examples.Select((e, i) => -Math.Log(Math.Max(probabilities[i][e.Label], 1e-12))).DefaultIfEmpty(0).Average();
        return (ClassificationMetrics.Compute(model.Labels, [.. examples.Select((e, i) => ClassificationMetrics.FromProbabilities(e.Label, probabilities[i], e.Text))]), loss);
    }

    /// <summary>
    /// The temperature (between 1/4 and 4) that gives the examples' right labels the highest likelihood, for <see
    /// cref="LlamaForSequenceClassification.Temperature"/>. Searched on a grid of log-temperatures; the model's own
    /// temperature is taken into account, so fitting twice gives the same result. Kept within 1/4 and 4 because held-out
    /// texts drawn from the training wordings are nearly all right, and an unbounded fit would then call every answer certain.
    /// </summary>
    public static double FitTemperature(LlamaForSequenceClassification model, IReadOnlyList<TokenizedExample> examples, int batchSize = 64)
    {
        if (examples.Count == 0) return model.Temperature;
        var logProbabilities = PredictProbabilities(model, [.. examples.Select(e => e.Ids)], batchSize)
            .Select(row => row.Select(p => Math.Log(Math.Max(p, 1e-30)) * model.Temperature).ToArray()).ToArray(); // logits up to a constant per row
        double Loss(double temperature)
        {
            double total = 0;
            for (int i = 0; i < examples.Count; i++)
            {
                var row = logProbabilities[i];
                var max = row.Max() / temperature;
                var sum = row.Sum(l => Math.Exp(l / temperature - max));
                total += max + Math.Log(sum) - row[examples[i].Label] / temperature;
            }
            return total / examples.Count;
        }
        const int Steps = 160;
        return Enumerable.Range(0, Steps + 1).Select(i => Math.Exp(Math.Log(0.25) + i * (Math.Log(4) - Math.Log(0.25)) / Steps)).MinBy(Loss);
    }

    /// <summary>
    /// The ids with each token left out with probability <paramref name="dropout"/>; at least one token stays. The
    /// array itself when nothing is left out.
    /// </summary>
    public static int[] DropTokens(int[] ids, double dropout, Random random)
    {
        if (dropout <= 0 || ids.Length < 2) return ids;
        var kept = new List<int>(ids.Length);
        foreach (var id in ids) if (random.NextDouble() >= dropout) kept.Add(id);
        if (kept.Count == ids.Length) return ids;
        return kept.Count == 0 ? [ids[random.Next(ids.Length)]] : [.. kept];
    }

    /// <summary>Balanced class weights: total / (labels × count); 0 for a label without examples (it has no loss to weigh).</summary>
    public static float[] BalancedClassWeights(IReadOnlyList<TokenizedExample> train, int labelCount)
    {
        var counts = new int[labelCount];
        foreach (var e in train) counts[e.Label]++;
        return [.. counts.Select(c => c == 0 ? 0f : (float)train.Count / (labelCount * c))];
    }

    /// <param name="adapterParameters">LoRA adapters attached to the model's frozen backbone (<see cref="LoraAdapters.NamedParameters"/>), trained with the parameters that still require gradients (the head).</param>
    /// <param name="resume">Continue from the checkpoint in <see cref="ClassifierTrainingOptions.CheckpointFile"/> (step, schedule, weights, optimizer moments, best weights, data order).</param>
    public ClassifierTrainingResult Train(LlamaForSequenceClassification model, IReadOnlyList<TokenizedExample> train, IReadOnlyList<TokenizedExample> validation, CancellationToken ct = default,
        IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)>? adapterParameters = null, bool resume = false)
    {
        if (train.Count == 0) throw new ArgumentException("There are no training examples.", nameof(train));
        if (validation.Count == 0) throw new ArgumentException("Early stopping needs validation examples; split some off the training data.", nameof(validation));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.EvaluateEvery, 1);
        if (resume && options.CheckpointFile is null) throw new ArgumentException("Resuming needs a checkpoint file.", nameof(resume));
        var k = model.Labels.Count;
        var device = model.parameters().First().device;
        var start = _clock.GetTimestamp();
        var weights = options.ClassWeights ? BalancedClassWeights(train, k) : [.. Enumerable.Repeat(1f, k)];
        using var weightTensor = tensor(weights, device: device);
        var maxSteps = options.MaxSteps;
        LearningRateSchedule Schedule(int total) => new(options.LearningRate, Math.Min(options.WarmupSteps, total / 10 + 1), total, 0.1);
        double evaluationSeconds = 0;
        // Frozen weights (a LoRA backbone) get no optimizer state and are not snapshotted: they never change.
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).Concat(adapterParameters ?? []).ToList();
        using var optimizer = new AdamW(trainable.Select(p => (p.Item1, (Tensor)p.Item2)), options.WeightDecay,
            learningRateScale: name => LlamaForSequenceClassification.IsWordScore(name) ? options.WordScoreLearningRateScale : 1);
        var parameters = trainable.Select(p => p.Item2).ToArray();
        manual_seed(options.Seed);

        var losses = new List<double>();
        var evaluations = new List<ClassifierEvaluation>();
        Dictionary<string, Tensor>? best = null;
        ClassificationMetrics? bestMetrics = null;
        double bestF1 = double.NegativeInfinity, bestLoss = double.PositiveInfinity, lowestLoss = double.PositiveInfinity, priorSeconds = 0;
        int bestStep = 0, sinceBest = 0, step = 0;
        double lossSinceEval = 0;
        int stepsSinceEval = 0;
        var stop = ClassifierStopReason.StepLimit;
        var order = Enumerable.Range(0, train.Count).ToArray();
        int cursor = order.Length;
        var resumed = false;
        var timeBudget = options.TimeBudget;
        if (resume)
        {
            var state = ClassifierCheckpoint.Load(options.CheckpointFile!, trainable, optimizer, ref best, device);
            if (state.Order.Length != train.Count)
                throw new EngineException("The checkpoint was made with other training examples than this run's; it cannot be resumed. Start a new run.");
            (step, maxSteps, bestStep, bestF1, bestLoss, lowestLoss, sinceBest, priorSeconds) =
                (state.Step, state.MaxSteps, state.BestStep, state.BestMacroF1, state.BestLoss, state.LowestLoss, state.SinceBest, state.ElapsedSeconds);
            (order, cursor) = (state.Order, state.Cursor);
            timeBudget = state.BudgetSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
            resumed = true;
        }
        var schedule = Schedule(maxSteps);
        // The same seed gives the same run. A resumed run draws its token dropout and later shuffles from a stream of its
        // own (a generator's state is not saved); the order of the examples continues exactly.
        var random = new Random((int)((options.Seed + step * 1_000_003L) % int.MaxValue));
        TimeSpan Elapsed() => TimeSpan.FromSeconds(priorSeconds) + _clock.GetElapsedTime(start);

        void SaveCheckpoint()
        {
            if (options.CheckpointFile is not { } path) return;
            ClassifierCheckpoint.Save(path, trainable, optimizer, best,
                new ClassifierCheckpointState(step, maxSteps, bestStep, bestF1, bestLoss, lowestLoss, sinceBest, optimizer.Step, Elapsed().TotalSeconds, timeBudget?.TotalSeconds, order, cursor));
            CheckpointSaved?.Invoke(step);
        }

        try
        {
            model.train();
            while (step < maxSteps)
            {
                if (ct.IsCancellationRequested)
                {
                    // Stopped from outside (Ctrl+C, CANCEL file, the portal): keep where it stands, so --resume continues here.
                    SaveCheckpoint();
                    ct.ThrowIfCancellationRequested();
                }
                var batch = new int[Math.Min(options.BatchSize, train.Count)];
                for (int i = 0; i < batch.Length; i++)
                {
                    if (cursor == order.Length) { random.Shuffle(order); cursor = 0; }
                    batch[i] = order[cursor++];
                }
                var lr = schedule.At(step);
                var loss = Step(model, optimizer, parameters, weightTensor, [.. batch.Select(i => DropTokens(train[i].Ids, options.TokenDropout, random))], [.. batch.Select(i => train[i].Label)], lr, device);
                step++;
                losses.Add(loss);
                lossSinceEval += loss;
                stepsSinceEval++;
                Stepped?.Invoke(new ClassifierStep(step, maxSteps, loss, lr, Elapsed()));

                // A time budget sets the schedule's length from the measured speed, so that the learning rate has
                // decayed when the time is up (a schedule cut off at its peak leaves the model noisy). Measured after the
                // first steps and again after the first evaluations, whose cost is then known; a resumed run keeps its schedule.
                if (!resumed && timeBudget is { } fitBudget && (step == ProbeSteps || (evaluations.Count is > 0 and <= 2 && step % options.EvaluateEvery == 0)))
                {
                    var elapsed = _clock.GetElapsedTime(start).TotalSeconds;
                    var perStep = (elapsed - evaluationSeconds) / step;
                    var perEvaluation = evaluations.Count > 0 ? evaluationSeconds / evaluations.Count : perStep * Math.Ceiling(validation.Count / (double)options.EvaluationBatchSize) / 3;
                    var remaining = fitBudget.TotalSeconds - elapsed - perEvaluation;
                    var fitted = Math.Min(options.MaxSteps, Math.Max(step + 1, step + (int)(remaining / (perStep + perEvaluation / options.EvaluateEvery))));
                    if (fitted != maxSteps && (step == ProbeSteps || Math.Abs(fitted - maxSteps) > 0.05 * maxSteps))
                    {
                        maxSteps = fitted;
                        schedule = Schedule(maxSteps);
                    }
                }

                var overTime = timeBudget is { } budget && Elapsed() >= budget;
                if (step % options.EvaluateEvery != 0 && step != maxSteps && !overTime) continue;

                var evaluationStart = _clock.GetTimestamp();
                var (metrics, validationLoss) = EvaluateWithLoss(model, validation, options.EvaluationBatchSize);
                evaluationSeconds += _clock.GetElapsedTime(evaluationStart).TotalSeconds;
                model.train();
                var evaluation = new ClassifierEvaluation(step, lossSinceEval / stepsSinceEval, Elapsed(), metrics, validationLoss);
                evaluations.Add(evaluation);
                lossSinceEval = 0;
                stepsSinceEval = 0;
                Evaluated?.Invoke(evaluation);
                // The best model has the highest macro-F1; of equal ones, the surest (lowest validation loss).
                var better = metrics.MacroF1 > bestF1 + 1e-9 || (Math.Abs(metrics.MacroF1 - bestF1) <= 1e-9 && validationLoss < bestLoss);
                if (better)
                {
                    bestMetrics = metrics;
                    bestF1 = metrics.MacroF1;
                    bestLoss = validationLoss;
                    bestStep = step;
                    Snapshot(trainable, ref best);
                }
                var stillLearning = validationLoss < lowestLoss * 0.995;
                lowestLoss = Math.Min(lowestLoss, validationLoss);
                if (better || stillLearning) sinceBest = 0;
                else if (++sinceBest >= options.Patience) { stop = ClassifierStopReason.EarlyStopping; break; }
                if (overTime) { stop = ClassifierStopReason.TimeBudget; break; }
                if (step != maxSteps) SaveCheckpoint();
            }
            if (best is not null && bestStep != step) Restore(trainable, best);
            // The best weights of a resumed run may come from before the interruption: measured again here.
            bestMetrics ??= EvaluateWithLoss(model, validation, options.EvaluationBatchSize).Metrics;
        }
        finally
        {
            if (best is not null) foreach (var t in best.Values) t.Dispose();
            model.eval();
        }
        return new ClassifierTrainingResult(step, stop, bestStep, bestMetrics, losses, evaluations, weights, Elapsed());
    }

    private double Step(LlamaForSequenceClassification model, AdamW optimizer, TorchSharp.Modules.Parameter[] parameters, Tensor classWeights, IReadOnlyList<int[]> batch, IReadOnlyList<int> labels, double lr, Device device)
    {
        using var scope = NewDisposeScope();
        var (ids, mask) = Pad(batch, 0, device);
        var targets = tensor(labels.Select(l => (long)l).ToArray(), device: device);
        model.HeadDropout = options.HeadDropout;
        var logits = model.forward(ids, mask);
        var loss = F.cross_entropy(logits, targets, weight: classWeights, label_smoothing: options.LabelSmoothing);
        var reported = loss.item<float>();
        if (options.WordScoreL2 > 0 && model.WordScoreSquares() is { } squares) loss = loss + options.WordScoreL2 * squares;
        optimizer.ZeroGrad();
        loss.backward();
        if (options.GradientClip > 0) nn.utils.clip_grad_norm_(parameters, options.GradientClip);
        optimizer.Update(lr);
        return reported;
    }

    private static void Snapshot(IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable, ref Dictionary<string, Tensor>? best)
    {
        using var _ = no_grad();
        if (best is null)
        {
            best = [];
            foreach (var (name, p) in trainable)
            {
                using var detached = p.detach();
                best[name] = detached.clone().DetachFromDisposeScope();
            }
            return;
        }
        foreach (var (name, p) in trainable) best[name].copy_(p);
    }

    private static void Restore(IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable, Dictionary<string, Tensor> best)
    {
        using var _ = no_grad();
        foreach (var (name, p) in trainable) p.copy_(best[name]);
    }
}
