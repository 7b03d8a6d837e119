namespace SlmStudio.Core.Training;

/// <summary>Everything a training run is started with. Defaults suit a business user who changes nothing.</summary>
public sealed record TrainingOptions
{
    public required string DataPath { get; init; }
    public required string RunDirectory { get; init; }
    public string Preset { get; init; } = Models.ModelPresets.Auto;
    /// <summary>Exact number of optimizer steps; when null the time budget decides.</summary>
    public int? MaxSteps { get; init; }
    /// <summary>Wall-clock budget for the whole run, in minutes (used when <see cref="MaxSteps"/> is null).</summary>
    public double? Minutes { get; init; }
    /// <summary>A Hugging Face model folder to fine-tune instead of starting from random weights.</summary>
    public string? BaseModel { get; init; }
    public long Seed { get; init; } = 1337;
    public int VocabSize { get; init; } = 4096;
    public int EvalEvery { get; init; } = 100;
    public int LogEvery { get; init; } = 10;
    public int? BatchSize { get; init; }
    public int? ContextLength { get; init; }
    public int GradientAccumulation { get; init; } = 1;
    public double? LearningRate { get; init; }
    /// <summary>The cosine schedule decays to this fraction of the peak learning rate.</summary>
    public double MinLearningRateFraction { get; init; } = 0.1;
    public int? WarmupSteps { get; init; }
    public double WeightDecay { get; init; } = 0.1;
    public double GradientClip { get; init; } = 1.0;
    public double ValidationFraction { get; init; } = 0.1;
    public int SampleTokens { get; init; } = 48;
    public string Device { get; init; } = "auto";

    public const double DefaultMinutes = 10;
}
