using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

public sealed record PresetChoice(ModelPreset Preset, string Reason, IReadOnlyDictionary<string, double> PredictedLoss);

/// <summary>
/// Picks the preset that should reach the lowest loss for this much data in this much time on this machine.
///
/// The rule: for each preset, N = its parameter count and D = the tokens it can train on within the time budget,
/// measured (tokens/s from a short real run of the tiny and small presets; larger presets are extrapolated from
/// small's measured efficiency by their FLOPs per token), capped at four passes over the training data (beyond about
/// four epochs repeated data adds little; Muennighoff et al., 2023). Each (N, D) is scored with the Chinchilla loss
/// fit L(N, D) = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28 (Hoffmann et al., 2022), and the lowest predicted loss wins.
/// The fit's absolute numbers do not carry over to our tokenizer; the trade-off between size and tokens does.
/// </summary>
public static class PresetSelector
{
    public const int MaxUsefulEpochs = 4;

    public static double ChinchillaLoss(double parameters, double tokens) =>
        1.69 + 406.4 / Math.Pow(parameters, 0.34) + 410.7 / Math.Pow(Math.Max(tokens, 1), 0.28);

    public static PresetChoice Choose(long trainTokens, double budgetSeconds, int vocabSize, Device device, Func<ModelPreset, double>? measuredTokensPerSecond = null)
    {
        measuredTokensPerSecond ??= MeasureWithExtrapolation(vocabSize, device);
        var predictions = new Dictionary<string, double>();
        ModelPreset? best = null;
        double bestLoss = double.MaxValue, bestTokens = 0;
        foreach (var preset in ModelPresets.All)
        {
            var n = preset.ParameterCount(vocabSize);
            var tokens = Math.Min(measuredTokensPerSecond(preset) * budgetSeconds, (double)MaxUsefulEpochs * trainTokens);
            var loss = ChinchillaLoss(n, tokens);
            predictions[preset.Name] = loss;
            if (loss < bestLoss) { best = preset; bestLoss = loss; bestTokens = tokens; }
        }
        var reason = $"Chose the {best!.Name} preset ({best.ParameterCount(vocabSize):N0} parameters): with {trainTokens:N0} training tokens and " +
                     $"{budgetSeconds / 60:0.#} minutes on this machine it can train on about {bestTokens:N0} tokens, which predicts the lowest loss of all sizes.";
        return new PresetChoice(best, reason, predictions);
    }

    private static Func<ModelPreset, double> MeasureWithExtrapolation(int vocabSize, Device device)
    {
        var measured = new Dictionary<string, double>();
        double Measure(ModelPreset p) => ThroughputProbe.TrainingTokensPerSecond(p.ConfigFor(vocabSize), Math.Min(p.BatchSize, 4), p.ContextLength, device, timedSteps: 1);
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
