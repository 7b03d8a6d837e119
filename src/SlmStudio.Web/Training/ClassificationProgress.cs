using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Training;

/// <summary>
/// A "Sort and route" run as the portal reads it: the JSON lines of <c>slm train --task classify</c>
/// (<see cref="ClassificationEvent"/>), the figures they put on the run row, and the way of training in words.
/// </summary>
public static class ClassificationProgress
{
    /// <summary>One JSON line as a classification event; null for anything else.</summary>
    public static ClassificationEvent? Parse(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try { return JsonSerializer.Deserialize<ClassificationEvent>(line, TrainingEvent.Json); }
        catch (JsonException) { return null; }
        catch (NotSupportedException) { return null; }
    }

    /// <summary>The event's name in the JSON line (its <c>event</c> field), kept as the run event's kind.</summary>
    public static string Kind(ClassificationEvent e) => e switch
    {
        ClassificationStarted => "started",
        ClassificationPhase => "phase",
        ClassificationStepEvent => "step",
        ClassificationEval => "eval",
        ClassificationFinished => "finished",
        ClassificationError => "error",
        _ => "message",
    };

    /// <summary>Copies the latest figures of an event onto the run row (step, loss, model size, device).</summary>
    public static void Apply(this TrainingRun run, ClassificationEvent e)
    {
        switch (e)
        {
            case ClassificationStarted started:
                run.Device = started.Device;
                break;
            case ClassificationPhase phase:
                if (phase.Parameters is { } parameters) run.Parameters = parameters;
                run.Step = 0;
                run.MaxSteps = phase.MaxSteps ?? 0;
                break;
            case ClassificationStepEvent step:
                run.Step = step.Step;
                run.MaxSteps = step.MaxSteps;
                run.Loss = step.Loss;
                run.LearningRate = step.Lr;
                break;
            case ClassificationEval { Phase: ClassificationEvent.LanguagePhase, ValLoss: { } valLoss }:
                run.ValLoss = valLoss;
                break;
            case ClassificationFinished finished:
                run.Step = finished.Steps;
                run.EtaSeconds = 0;
                break;
        }
    }

    /// <summary>How the run trains and why, in plain words, from its start event (or the run's settings before it).</summary>
    public static string Route(TrainingRun run, ClassificationStarted? started)
    {
        var fromBase = started is not null ? started.Route == "base" : run.BaseVersionId is not null || run.BaseModelName is not null;
        if (!fromBase)
            return "From scratch: no base model was chosen, so the model first learns the language of your texts (predicting each next word, without the labels), then learns the labels. " +
                   "A simple keyword model is trained on the same examples to compare with.";
        var source = run.BaseModelName is { } name ? $"the base model \"{name}\"" : run.BaseVersionId is not null ? "an earlier version of this project" : "a base model";
        return $"From {source}: it already knows the language, so training goes straight to the labels{(run.UseLora ? ", with adapters (LoRA) on the unchanged base model" : "")}. " +
               "A simple keyword model is trained on the same examples to compare with.";
    }

    /// <summary>The phase the run is in now, in words.</summary>
    public static string? CurrentPhase(IReadOnlyList<ClassificationEvent> events, TrainingRun run)
    {
        if (events.OfType<ClassificationFinished>().LastOrDefault() is { } finished) return finished.Summary;
        if (!run.IsActive) return null;
        return events.OfType<ClassificationPhase>().LastOrDefault() switch
        {
            { Phase: ClassificationEvent.LanguagePhase } => "Now: learning the language of your texts (step 1 of 2).",
            { Phase: ClassificationEvent.LabelPhase } p => $"Now: learning the labels{(events.OfType<ClassificationStarted>().LastOrDefault()?.Route == "base" ? "" : " (step 2 of 2)")}. {p.Description}",
            _ => events.Count == 0 ? null : "Getting ready: reading and checking the examples, and training the keyword model.",
        };
    }

    public static string Percent(double x) => (x * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
}
