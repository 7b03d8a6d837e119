using System.Text.Json.Serialization;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Training;

/// <summary>The settings a run was started with, as resolved (preset chosen, schedule fixed): run.json.</summary>
public sealed record RunSettings(
    TrainingOptions Options, string Preset, LlamaConfig Config, int BatchSize, int ContextLength, double PeakLearningRate,
    long TrainTokens, long ValidationTokens, long TrainCharacters, long ValidationCharacters, IReadOnlyList<string> SamplePrompts,
    IReadOnlyList<string> SourceFiles, DateTimeOffset CreatedAt, double BaselineValLoss)
{
    /// <summary>Characters per token of the validation text: turns a loss per token into bits per character.</summary>
    [JsonIgnore]
    public double ValidationCharactersPerToken => (double)ValidationCharacters / Math.Max(1, ValidationTokens);

    /// <summary>How much training text the model has for each of its parameters: how small the text is for it (<see cref="RepetitionDropout"/>).</summary>
    [JsonIgnore]
    public double TrainTokensPerParameter => (double)TrainTokens / Math.Max(1, Config.ParameterCount);
}
