using System.Text.Json;
using System.Text.Json.Serialization;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Classification;

/// <summary>
/// Progress of a classification run, one JSON object per line as <c>slm train --task classify</c> prints it and
/// metrics.jsonl keeps it. The event names are those of text runs (started, message, step, eval, finished, error);
/// <c>phase</c> tells the language phase ("language", validation loss) from the label phase ("labels", accuracy).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "event")]
[JsonDerivedType(typeof(ClassificationStarted), "started")]
[JsonDerivedType(typeof(ClassificationPhase), "phase")]
[JsonDerivedType(typeof(ClassificationStepEvent), "step")]
[JsonDerivedType(typeof(ClassificationEval), "eval")]
[JsonDerivedType(typeof(ClassificationMessage), "message")]
[JsonDerivedType(typeof(ClassificationFinished), "finished")]
[JsonDerivedType(typeof(ClassificationCheckpointSaved), "checkpoint")]
[JsonDerivedType(typeof(ClassificationError), "error")]
public abstract record ClassificationEvent
{
    public const string LanguagePhase = "language";
    public const string LabelPhase = "labels";

    public string ToJsonLine() => JsonSerializer.Serialize(this, TrainingEvent.Json);
}

/// <param name="Route">"scratch" (language phase, then labels) or "base" (labels on a base model's backbone).</param>
public sealed record ClassificationStarted(
    string Task, string Route, IReadOnlyList<string> Labels, int TrainExamples, int ValidationExamples, string Device, string? BaseModel) : ClassificationEvent;

/// <summary>A phase begins: what it does and, for the label phase, the model it trains.</summary>
public sealed record ClassificationPhase(string Phase, string Description, long? Parameters = null, int? MaxSteps = null) : ClassificationEvent;

public sealed record ClassificationStepEvent(string Phase, int Step, int MaxSteps, double Loss, double Lr, double ElapsedSeconds) : ClassificationEvent;

/// <summary>A validation measurement: loss for the language phase, accuracy and macro-F1 for the label phase.</summary>
public sealed record ClassificationEval(string Phase, int Step, double? TrainLoss = null, double? ValLoss = null, double? Accuracy = null, double? MacroF1 = null) : ClassificationEvent;

public sealed record ClassificationMessage(string Text) : ClassificationEvent;

/// <summary>The label phase kept a checkpoint at this step: a run stopped or killed after it resumes from here.</summary>
public sealed record ClassificationCheckpointSaved(string Phase, int Step) : ClassificationEvent;

/// <param name="Summary">"Your model: 91.2% correct. A simple keyword model: 87.5%." and, when the keyword model wins, why.</param>
public sealed record ClassificationFinished(
    double Accuracy, double MacroF1, double BaselineAccuracy, double BaselineMacroF1, string ClassifierDir, string BaselineFile,
    string Summary, int Steps, int BestStep, string StoppedBecause, double ElapsedSeconds, bool Cancelled = false) : ClassificationEvent;

public sealed record ClassificationError(string Message) : ClassificationEvent;
