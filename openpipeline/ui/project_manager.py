"""The Project Manager: the registered projects; create, register, adopt, activate, open.

The same core calls as ``openpipeline project create|register|adopt|activate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from Qt import QtCore, QtWidgets

from openpipeline.core import registry
from openpipeline.core.errors import UserError
from openpipeline.core.project import Project
from openpipeline.ui.context import BrowserContext


class ProjectManager(QtWidgets.QDialog):
    """Choose the project the browser shows, or make a new one."""

    def __init__(self, context: BrowserContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.setWindowTitle("Project Manager")
        self.resize(640, 420)
        self.projects = QtWidgets.QListWidget()
        self.projects.itemActivated.connect(lambda _item: self.open_selected())
        self.name_edit = QtWidgets.QLineEdit(placeholderText="name (letters, digits, _)")
        self.root_edit = QtWidgets.QLineEdit(placeholderText="folder to create the project in")
        self.description_edit = QtWidgets.QLineEdit()
        self.format_box = QtWidgets.QComboBox()
        self.format_box.addItems(["ma", "mb"])
        form = QtWidgets.QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Folder", self._with_browse(self.root_edit))
        form.addRow("Description", self.description_edit)
        form.addRow("Scene format", self.format_box)
        self.buttons: dict[str, Any] = {}
        row = QtWidgets.QHBoxLayout()
        for label, method in (("Open", "open_selected"), ("Activate", "activate_selected"),
                              ("Register Folder...", "register_folder"),
                              ("Adopt Legacy...", "adopt_legacy")):
            self.buttons[method] = button = QtWidgets.QPushButton(label)
            button.clicked.connect(getattr(self, method))
            row.addWidget(button)
        self.buttons["create"] = create = QtWidgets.QPushButton("Create Project")
        create.clicked.connect(self.create_project)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel("<b>Registered projects</b> (* active)"))
        layout.addWidget(self.projects, 1)
        layout.addLayout(row)
        layout.addWidget(QtWidgets.QLabel("<b>New project</b>"))
        layout.addLayout(form)
        layout.addWidget(create)
        self.status = QtWidgets.QLabel()
        layout.addWidget(self.status)
        self.reload()

    def _with_browse(self, edit: Any) -> Any:
        box = QtWidgets.QHBoxLayout()
        box.addWidget(edit)
        button = QtWidgets.QPushButton("Browse...")
        button.clicked.connect(lambda: edit.setText(self.choose_folder("Project folder") or edit.text()))
        box.addWidget(button)
        holder = QtWidgets.QWidget()
        holder.setLayout(box)
        box.setContentsMargins(0, 0, 0, 0)
        return holder

    def choose_folder(self, title: str) -> str | None:
        """A folder from a file dialog (tests replace this)."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, title)
        return str(folder) or None

    def reload(self) -> None:
        """List the registry's projects (a damaged registry shows its sentence)."""
        self.projects.clear()
        data = self.ctx.run(self, registry.load) or {"projects": {}}
        for name, path in sorted(data["projects"].items()):
            active = "* " if name == data.get("active") else "  "
            entry = QtWidgets.QListWidgetItem(f"{active}{name}   {path}")
            entry.setData(QtCore.Qt.ItemDataRole.UserRole, name)
            self.projects.addItem(entry)

    def selected_name(self) -> str:
        entry = self.projects.currentItem()
        if entry is None:
            raise UserError("No project is selected; choose one in the list first.")
        return str(entry.data(QtCore.Qt.ItemDataRole.UserRole))

    def _use(self, project: Project) -> None:
        self.ctx.set_project(project)
        self.status.setText(f"Opened project '{project.config.name}' at {project.root}.")

    def create_project(self) -> None:
        """Create and register a project (``openpipeline project create``), then open it."""
        def run() -> Project:
            name, root = self.name_edit.text().strip(), self.root_edit.text().strip()
            if not root:
                raise UserError("No folder is given for the project; type or browse to one.")
            made: list[Project] = []
            fmt = self.format_box.currentText()
            settings = {"master_format": fmt, "workshop_format": fmt}
            if self.description_edit.text().strip():
                settings["description"] = self.description_edit.text().strip()

            def create() -> Path:
                made.append(Project.create(Path(root), name, **settings))
                return made[0].root

            registry.register_new(name, Path(root), create, activate=True)
            return made[0]

        project = self.ctx.run(self, run)
        if project is not None:
            self.reload()
            self._use(project)

    def open_selected(self) -> None:
        project = self.ctx.run(self, lambda: Project.open(registry.lookup(self.selected_name())))
        if project is not None:
            self._use(project)
            self.accept()

    def activate_selected(self) -> None:
        def run() -> bool:
            registry.activate(self.selected_name())
            return True

        if self.ctx.run(self, run):
            self.reload()

    def register_folder(self) -> None:
        folder = self.choose_folder("Project folder to register")
        if not folder:
            return

        def run() -> Project:
            project = Project.open(Path(folder))
            registry.register_new(project.config.name, project.root, lambda: project.root)
            return project

        project = self.ctx.run(self, run)
        if project is not None:
            self.reload()
            self._use(project)

    def adopt_legacy(self) -> None:
        """Adopt a MEL openPipeline project (its files stay as they are) and open it."""
        folder = self.choose_folder("Legacy openPipeline project folder")
        if not folder:
            return

        def run() -> Project:
            from openpipeline.core import legacy

            plan = legacy.plan_adoption(Path(folder))
            legacy.adopt(plan)
            registry.register(plan.config.name, plan.root)
            return Project.open(plan.root)

        project = self.ctx.run(self, run)
        if project is not None:
            self.reload()
            self._use(project)
