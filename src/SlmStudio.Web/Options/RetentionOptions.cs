using System.ComponentModel.DataAnnotations;

namespace SlmStudio.Web.Options;

/// <summary>
/// How long the portal keeps original uploads and the text read from them once their data is frozen into a dataset
/// version. Section "Studio:Retention"; an administrator sets it in appsettings.json. The frozen dataset versions
/// (with personal data replaced when the project asks for it) are what training needs; the originals are not.
/// </summary>
public sealed class RetentionOptions
{
    public const string Section = "Studio:Retention";

    /// <summary>Days an original is kept after the first dataset version that includes it was frozen; 0 deletes it at
    /// the next sweep after freezing (the default).</summary>
    [Range(0, 36_500, ErrorMessage = "Studio:Retention:KeepOriginalsDays must be a whole number of days from 0 (delete at freezing) to 36500.")]
    public int KeepOriginalsDays { get; set; }

    /// <summary>How often the sweep that deletes expired originals runs, in minutes.</summary>
    [Range(1, 59, ErrorMessage = "Studio:Retention:SweepMinutes must be between 1 and 59 minutes.")]
    public int SweepMinutes { get; set; } = 15;

    /// <summary>The policy in one sentence, for the data step.</summary>
    public string Describe() => KeepOriginalsDays == 0
        ? "Your original files and the text read from them are deleted soon after the data is frozen for training; the frozen dataset version keeps what the model learns from."
        : $"Your original files and the text read from them are deleted {KeepOriginalsDays} day{(KeepOriginalsDays == 1 ? "" : "s")} after the data is frozen for training; the frozen dataset version keeps what the model learns from.";
}
