namespace SlmStudio.Web.Components.Shared;

/// <summary>Numbers the way a non-programmer reads them.</summary>
public static class Format
{
    public static string Count(long n) => n switch
    {
        >= 1_000_000_000 => $"{n / 1e9:0.#} billion",
        >= 1_000_000 => $"{n / 1e6:0.#} million",
        >= 10_000 => $"{n / 1e3:0.#} thousand",
        _ => n.ToString("N0"),
    };

    public static string Bytes(long b) => b switch
    {
        >= 1L << 30 => $"{b / (double)(1L << 30):0.#} GB",
        >= 1L << 20 => $"{b / (double)(1L << 20):0.#} MB",
        >= 1L << 10 => $"{b / (double)(1L << 10):0.#} KB",
        _ => $"{b} bytes",
    };

    public static string Duration(double? seconds)
    {
        if (seconds is not { } s || double.IsNaN(s) || s < 0) return "—";
        var t = TimeSpan.FromSeconds(s);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes} min" : t.TotalMinutes >= 1 ? $"{t.Minutes} min {t.Seconds} s" : $"{t.Seconds} s";
    }

    /// <summary>A date and time nobody can misread, whatever their country: "1 Dec 2026, 14:05" (server time zone).</summary>
    public static string When(DateTimeOffset at) => at.ToLocalTime().ToString("d MMM yyyy, HH:mm", System.Globalization.CultureInfo.InvariantCulture);

    public static string When(DateTimeOffset? at, string none) => at is { } a ? When(a) : none;

    public static MudBlazor.Color VerdictColor(Core.Verdicts.VerdictLevel level) => level switch
    {
        Core.Verdicts.VerdictLevel.Good => MudBlazor.Color.Success,
        Core.Verdicts.VerdictLevel.UsableForDrafts => MudBlazor.Color.Info,
        _ => MudBlazor.Color.Warning,
    };

    public static string Number(double? v, string format = "0.000") => v is { } x && !double.IsNaN(x) ? x.ToString(format) : "—";

    public static string Status(Data.RunStatus s) => s switch
    {
        Data.RunStatus.Queued => "Waiting to start",
        Data.RunStatus.Running => "Training",
        Data.RunStatus.Interrupted => "Interrupted — will resume",
        Data.RunStatus.Trained => "Trained — preparing files",
        Data.RunStatus.Exporting => "Preparing model files",
        Data.RunStatus.Succeeded => "Finished",
        Data.RunStatus.Failed => "Failed",
        Data.RunStatus.Cancelled => "Cancelled",
        _ => s.ToString(),
    };

    public static MudBlazor.Color StatusColor(Data.RunStatus s) => s switch
    {
        Data.RunStatus.Succeeded => MudBlazor.Color.Success,
        Data.RunStatus.Failed => MudBlazor.Color.Error,
        Data.RunStatus.Cancelled => MudBlazor.Color.Warning,
        Data.RunStatus.Running or Data.RunStatus.Exporting or Data.RunStatus.Trained => MudBlazor.Color.Info,
        _ => MudBlazor.Color.Default,
    };
}
