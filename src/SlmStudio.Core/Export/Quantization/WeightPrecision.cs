namespace SlmStudio.Core.Export.Quantization;

/// <summary>How the weights of an exported model's linear layers are stored.</summary>
public enum WeightPrecision
{
    /// <summary>32-bit floats: the training model's weights unchanged.</summary>
    Fp32,
    /// <summary>8-bit integers with one float scale (and zero point) per block of <see cref="BlockQuantizer.DefaultBlockSize"/> weights.</summary>
    Int8,
    /// <summary>4-bit integers with one float scale (and zero point) per block of <see cref="BlockQuantizer.DefaultBlockSize"/> weights.</summary>
    Int4,
}

public static class WeightPrecisions
{
    public static readonly IReadOnlyList<WeightPrecision> All = [WeightPrecision.Fp32, WeightPrecision.Int8, WeightPrecision.Int4];

    /// <summary>The name used on the command line and in manifest.json: fp32, int8 or int4.</summary>
    public static string Name(this WeightPrecision precision) => precision switch
    {
        WeightPrecision.Fp32 => "fp32",
        WeightPrecision.Int8 => "int8",
        WeightPrecision.Int4 => "int4",
        _ => throw new ArgumentOutOfRangeException(nameof(precision)),
    };

    /// <summary>Bits per quantised weight (0 for fp32).</summary>
    public static int Bits(this WeightPrecision precision) => precision switch
    {
        WeightPrecision.Int8 => 8,
        WeightPrecision.Int4 => 4,
        _ => 0,
    };

    public static bool IsQuantized(this WeightPrecision precision) => precision != WeightPrecision.Fp32;

    /// <summary>Parses fp32, int8 or int4 (case-insensitive), refusing anything else with a message that lists the choices.</summary>
    public static WeightPrecision Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => WeightPrecision.Fp32,
        "int8" => WeightPrecision.Int8,
        "int4" => WeightPrecision.Int4,
        _ => throw new EngineException($"'{text}' is not a precision this exporter knows; choose fp32, int8 or int4."),
    };

    /// <summary>Parses a comma-separated list such as "fp32,int8,int4" (duplicates removed, order kept).</summary>
    public static IReadOnlyList<WeightPrecision> ParseList(string text)
    {
        var list = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Parse).Distinct().ToList();
        if (list.Count == 0) throw new EngineException("Give at least one precision: fp32, int8 or int4 (for example fp32,int4).");
        return list;
    }
}
