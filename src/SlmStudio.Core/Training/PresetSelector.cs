using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <param name="TokensPerSecond">The chosen preset's training speed on this machine (measured or extrapolated), at its own batch.</param>
public sealed record PresetChoice(ModelPreset Preset, string Reason, IReadOnlyDictionary<string, double> PredictedLoss, double TokensPerSecond = 0);

/// <summary>
/// Picks the preset that should reach the lowest loss for this much data in this much time on this machine.
///
/// For each preset, N is its parameter count and D the tokens it can train on within the time budget, from speed
/// measured on this machine (a short real run of the tiny and small presets; larger presets are extrapolated from
/// small's measured FLOP/s by their FLOPs per token). Each (N, D) is scored with the data-constrained scaling law of
/// Muennighoff et al. (2023): repeated epochs over U_D unique tokens count as D' = U_D + U_D·R*_D·(1 − e^(−R_D/R*_D))
/// effective tokens (R_D = repetitions, R*_D = 15.4), and parameters beyond the compute-optimal size for the unique
/// data (U_N = U_D / 20, Chinchilla's ratio) count as N' = U_N + U_N·R*_N·(1 − e^(−R_N/R*_N)) (R*_N = 5.3); then the
/// Chinchilla fit L = 1.69 + 406.4 / N'^0.34 + 410.7 / D'^0.28 (Hoffmann et al., 2022). The smallest preset within
/// 1% of the lowest predicted loss wins: it is as good and cheaper to train and run. The fit's absolute numbers do not
/// carry over to our tokenizer; the trade-off between size, data and time does.
/// </summary>
public static class PresetSelector
{
    public static double PredictedLoss(double parameters, double tokensTrained, double uniqueTokens)
    {
        uniqueTokens = Math.Max(uniqueTokens, 1);
        tokensTrained = Math.Max(tokensTrained, 1);
        var repetitions = Math.Max(tokensTrained / uniqueTokens - 1, 0);
        var effectiveTokens = Math.Min(tokensTrained, uniqueTokens) + uniqueTokens * 15.4 * (1 - Math.Exp(-repetitions / 15.4));
        var optimalParameters = Math.Min(parameters, uniqueTokens / 20);
        var excess = Math.Max(parameters / optimalParameters - 1, 0);
        var effectiveParameters = optimalParameters + optimalParameters * 5.3 * (1 - Math.Exp(-excess / 5.3));
        return 1.69 + 406.4 / Math.Pow(effectiveParameters, 0.34) + 410.7 / Math.Pow(effectiveTokens, 0.28);
    }

    public static PresetChoice Choose(long trainTokens, double budgetSeconds, int vocabSize, Device device, Func<ModelPreset, double>? measuredTokensPerSecond = null,
        ScalarType stepType = ScalarType.Float32)
    {
        measuredTokensPerSecond ??= MeasureWithExtrapolation(vocabSize, device, stepType);
        var predictions = ModelPresets.All.ToDictionary(p => p.Name, p =>
            PredictedLoss(p.ParameterCount(vocabSize), measuredTokensPerSecond(p) * budgetSeconds, trainTokens));
        var lowest = predictions.Values.Min();
        var best = ModelPresets.All.First(p => predictions[p.Name] <= lowest * 1.01);
        var tokens = measuredTokensPerSecond(best) * budgetSeconds;
        var reason = $"Chose the {best.Name} preset ({best.ParameterCount(vocabSize):N0} parameters): with {trainTokens:N0} tokens of training text and " +
                     $"{budgetSeconds / 60:0.#} minutes on this machine it can train on about {tokens:N0} tokens, which predicts the lowest loss for the cost.";
        return new PresetChoice(best, reason, predictions, measuredTokensPerSecond(best));
    }

    /// <summary>
    /// A run gets at least this many optimizer steps in its time budget when the batch can shrink to allow it: on a
    /// slow or busy machine a preset's batch leaves too few steps to learn anything (a 5-minute run on a loaded
    /// 2-core machine did 6 steps of 16 x 256 tokens and ended worse than the unigram baseline).
    /// </summary>
    public const int MinimumSteps = 300;
    public const int MinimumBatchSize = 2;

    /// <summary>
    /// The batch size for a time budget: the preset's, or smaller (down to <see cref="MinimumBatchSize"/>) when the
    /// preset's would give fewer than <see cref="MinimumSteps"/> steps at the measured speed. The learning rate
    /// follows the batch by its square root (the rule for Adam), so a smaller batch takes smaller, more frequent steps.
    /// </summary>
    public static (int BatchSize, double LearningRate) BatchForBudget(ModelPreset preset, int contextLength, double tokensPerSecond, double budgetSeconds)
    {
        var tokens = tokensPerSecond * budgetSeconds;
        var fitting = (int)Math.Floor(tokens / ((double)MinimumSteps * contextLength));
        var batch = Math.Clamp(fitting, Math.Min(MinimumBatchSize, preset.BatchSize), preset.BatchSize);
        return (batch, preset.LearningRate * Math.Sqrt((double)batch / preset.BatchSize));
    }
    private static Func<ModelPreset, double> MeasureWithExtrapolation(int vocabSize, Device device, ScalarType stepType)
    {
        var measured = new Dictionary<string, double>();
        double Measure(ModelPreset p) => ThroughputProbe.TrainingTokensPerSecond(p.ConfigFor(vocabSize), Math.Min(p.BatchSize, 4), p.ContextLength, device, timedSteps: 1, stepType, p.Optimizer);
        var small = ModelPresets.Get("small");
        var smallFlopsPerSecond = Measure(small) * ThroughputProbe.TrainingFlopsPerToken(small.ConfigFor(vocabSize));
        return preset =>
        {
            if (measured.TryGetValue(preset.Name, out var v)) return v;
            var config = preset.ConfigFor(vocabSize);
            v = preset.Name is "tiny" or "small" ? Measure(preset) : smallFlopsPerSecond / ThroughputProbe.TrainingFlopsPerToken(config);
            return measured[preset.Name] = v;
        };
    }
}
