using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SlmStudio.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class ClassifyTasksAndBaseModels : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "BaseModelName",
                table: "Runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Task",
                table: "Runs",
                type: "TEXT",
                nullable: false,
                // Every run before this column trained text ("Write like us").
                defaultValue: "text");

            migrationBuilder.AddColumn<bool>(
                name: "UseLora",
                table: "Runs",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "BaseModelName",
                table: "Projects",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "UseLora",
                table: "Projects",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "BaseModelName",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "Task",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "UseLora",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "BaseModelName",
                table: "Projects");

            migrationBuilder.DropColumn(
                name: "UseLora",
                table: "Projects");
        }
    }
}
