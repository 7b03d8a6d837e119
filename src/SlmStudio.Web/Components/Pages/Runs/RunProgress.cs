using MudBlazor;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Components.Pages.Runs;

/// <summary>How far a run is and how its charts are scaled, shared by the run page and the jobs list.</summary>
public static class RunProgress
{
    /// <summary>Percent done; a run that finished training is complete even when its time budget ended it before the
    /// planned last step (the engine then says so in a message).</summary>
    public static double Percent(TrainingRun? run) => run switch
    {
        null => 0,
        { Status: RunStatus.Succeeded or RunStatus.Trained or RunStatus.Exporting } => 100,
        { MaxSteps: > 0 } r => Math.Min(100, 100.0 * r.Step / r.MaxSteps),
        _ => 0,
    };

    /// <summary>"Finished", "74%" or "—" for the jobs list.</summary>
    public static string Label(TrainingRun run) => run.Status switch
    {
        RunStatus.Succeeded or RunStatus.Trained or RunStatus.Exporting => "100%",
        _ when run.MaxSteps > 0 => $"{Percent(run):0}%",
        _ => "—",
    };

    /// <summary>The engine's message that says training stopped, or will stop, before its time budget is used, if it
    /// said so: the budget ran out before the planned last step, or the text is too short to use the whole budget.</summary>
    public static string? StopMessage(IEnumerable<string> messages) =>
        messages.LastOrDefault(m => m.Contains("time budget was used up", StringComparison.OrdinalIgnoreCase)) ?? ReadingLimitMessage(messages);

    private static string? ReadingLimitMessage(IEnumerable<string> messages) =>
        messages.LastOrDefault(m => m.StartsWith(ReadingLimit.MessageOpening, StringComparison.Ordinal));

    /// <summary>Why a run that is no longer training stopped, in words, or why a run in training will finish before its
    /// budget; null otherwise and when it failed (the error says why).</summary>
    public static string? StopReason(TrainingRun run, IEnumerable<string> messages) => run.Status switch
    {
        RunStatus.Succeeded or RunStatus.Trained or RunStatus.Exporting => StopMessage(messages) is { } m
            ? $"Finished early: {Lowercased(m)}"
            : run.MaxSteps > 0 ? $"Finished: all {run.MaxSteps:N0} planned steps were trained." : "Finished.",
        RunStatus.Cancelled => $"Cancelled at step {run.Step:N0}{(run.MaxSteps > 0 ? $" of {run.MaxSteps:N0}" : "")}; resume to continue from the last checkpoint.",
        RunStatus.Running when ReadingLimitMessage(messages) is { } m => $"Will finish early: {Lowercased(m)}",
        _ => null,
    };

    private static string Lowercased(string sentence) => $"{char.ToLowerInvariant(sentence[0])}{sentence[1..]}";

    /// <summary>What the run is doing before its first step, when there is no step count yet.</summary>
    public static string? Preparing(TrainingRun run) => run.Status switch
    {
        RunStatus.Queued => "Waiting for the server to start this run…",
        RunStatus.Running when run.MaxSteps == 0 => "Getting ready: learning the word pieces of your text (the tokenizer) and measuring this server's speed. This takes a minute or two.",
        _ => null,
    };

    /// <summary>Line-chart options that fit the axis to the data: MudBlazor's default tick spacing of 20 made every
    /// loss curve (values between 2 and 10) look flat on a 0–20 axis.</summary>
    public static LineChartOptions ChartOptions(IReadOnlyCollection<double> values)
    {
        var finite = values.Where(double.IsFinite).ToList();
        var range = finite.Count == 0 ? 1 : finite.Max() - finite.Min();
        return new LineChartOptions
        {
            YAxisRequireZeroPoint = false,
            YAxisTicks = Math.Max(1, (int)Math.Round(range / 5)),
            MaxNumYAxisTicks = 8,
            // A single evaluation is a single point: without a marker it would not be drawn at all.
            ShowDataMarkers = finite.Count <= 20,
        };
    }

    /// <summary>Bar-chart options with ticks spaced for the tallest bar (bars start at zero), for the same reason.</summary>
    public static BarChartOptions BarChartOptions(IReadOnlyCollection<double> values)
    {
        var top = values.Where(double.IsFinite).DefaultIfEmpty(1).Max();
        return new BarChartOptions { YAxisTicks = Math.Max(1, (int)Math.Round(top / 5)), MaxNumYAxisTicks = 8 };
    }
}
